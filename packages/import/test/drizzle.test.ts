import { existsSync } from 'node:fs'
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { drizzle } from 'drizzle-orm/node-postgres'
import { migrate } from 'drizzle-orm/node-postgres/migrator'
import pg from 'pg'
import { expect, it } from 'vitest'
import {
  asSection,
  CORPORA,
  describeWithServer,
  expectTakenOver,
  filesOf,
  flux,
  fluxProject,
  freshDatabase,
  psqlFiles,
  schemaDump,
  sectionsOf,
  tempDir,
  withDatabase,
} from './import-helpers.ts'

// drizzle-orm's own migrate() applies the first half of Dokploy's real history; then
// `flux import drizzle` and `flux up` take over.
const DOKPLOY = join(CORPORA, 'dokploy-drizzle')

interface Journal {
  entries: { when: number; tag: string }[]
}

/** A folder with the first `count` migrations of the corpus: its journal cut there, its files linked. */
async function firstPart(count: number): Promise<string> {
  const journal = JSON.parse(await readFile(join(DOKPLOY, 'meta', '_journal.json'), 'utf8')) as Journal
  const dir = await tempDir('drizzle')
  await mkdir(join(dir, 'meta'))
  await writeFile(
    join(dir, 'meta', '_journal.json'),
    JSON.stringify({ ...journal, entries: journal.entries.slice(0, count) }),
  )
  for (const entry of journal.entries.slice(0, count))
    await symlink(join(DOKPLOY, `${entry.tag}.sql`), join(dir, `${entry.tag}.sql`))
  return dir
}

async function drizzleMigrate(url: string, folder: string): Promise<void> {
  const pool = new pg.Pool({ connectionString: url, max: 1 })
  try {
    await migrate(drizzle(pool), { migrationsFolder: folder })
  } finally {
    await pool.end()
  }
}

describeWithServer('flux import drizzle', (server) => {
  it("takes over a real history half applied by drizzle-orm's migrate(): same schema, nothing run twice", async () => {
    expect(existsSync(DOKPLOY), `the corpus is missing at ${DOKPLOY}`).toBe(true)
    const journal = JSON.parse(await readFile(join(DOKPLOY, 'meta', '_journal.json'), 'utf8')) as Journal
    expect(journal.entries).toHaveLength(150)
    const url = await freshDatabase(server)
    await drizzleMigrate(url, await firstPart(75))
    const project = await fluxProject()
    const folder = join(project, 'migrations')

    const dryRun = flux(project, url, 'import', 'drizzle', '--store', 'catalog', '--from', DOKPLOY, '--dry-run')
    expect(dryRun.code, dryRun.stderr).toBe(0)
    expect(dryRun.stdout).toContain(
      "drizzle's drizzle.__drizzle_migrations has 75 applied; would record 75 in flux's ledger",
    )
    expect(dryRun.stdout).toContain(`record app/${journal.entries[74]!.tag} as applied`)
    expect(dryRun.stdout).not.toContain(`record app/${journal.entries[75]!.tag} `)
    expect(await filesOf(folder)).toEqual([])

    const imported = flux(project, url, 'import', 'drizzle', '--store', 'catalog', '--from', DOKPLOY)
    expect(imported.code, imported.stderr).toBe(0)
    const written = (await filesOf(folder)).filter((file) => file.endsWith('.sql'))
    expect(written).toEqual(journal.entries.map((entry) => `${entry.tag}.sql`))
    for (const entry of journal.entries) {
      const sections = await sectionsOf(join(folder, `${entry.tag}.sql`))
      expect(sections.up, entry.tag).toBe(asSection(await readFile(join(DOKPLOY, `${entry.tag}.sql`), 'utf8')))
      expect(sections.down).toBeUndefined()
    }
    const ids = journal.entries.map((entry) => `app/${entry.tag}`)
    expect(ids).toHaveLength(150)
    await expectTakenOver(project, url, ['drizzle', '--store', 'catalog', '--from', DOKPLOY], ids, 75)
    // drizzle's own ledger is left as it was
    expect(
      await withDatabase(
        url,
        async (client) => (await client.query('select count(*)::int as n from drizzle.__drizzle_migrations')).rows[0].n,
      ),
    ).toBe(75)

    const byHand = await freshDatabase(server)
    psqlFiles(
      byHand,
      journal.entries.map((entry) => join(DOKPLOY, `${entry.tag}.sql`)),
    )
    const expected = schemaDump(byHand)
    expect(expected).toContain('CREATE TABLE public.')
    expect(schemaDump(url, [], ['drizzle'])).toBe(expected)
  })

  it('stops on a ledger row that the journal does not have, writing nothing', async () => {
    const url = await freshDatabase(server)
    await drizzleMigrate(url, await firstPart(3))
    await withDatabase(url, (client) =>
      client.query(`insert into drizzle.__drizzle_migrations (hash, created_at) values ('0123456789abcdef', 1)`),
    )
    const project = await fluxProject()
    const result = flux(project, url, 'import', 'drizzle', '--store', 'catalog', '--from', DOKPLOY)
    expect(result.code).toBe(3)
    expect(result.stderr).toContain(
      "drizzle's drizzle.__drizzle_migrations records the migration of created_at 1 (hash 0123456789ab…) as applied",
    )
    expect(await filesOf(join(project, 'migrations'))).toEqual([])
  })
})
