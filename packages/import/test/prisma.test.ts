import { createHash, randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type pg from 'pg'
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
  hasTable,
  psqlFiles,
  schemaDump,
  sectionsOf,
  withDatabase,
} from './import-helpers.ts'

// `prisma migrate deploy` needs Prisma's schema engine, a binary it downloads at run time from
// its own host, which this machine cannot reach (tried: ENOTFOUND). So the first half of Rallly's
// real history is applied here by Prisma's documented rules, into its ledger created as its
// engine creates it: a row per migration, inserted when it starts (checksum = sha256 of
// migration.sql), its script sent as one multi-statement query, then finished_at set.
const RALLLY = join(CORPORA, 'rallly-prisma')

const PRISMA_LEDGER = `CREATE TABLE "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`

async function migrationNames(): Promise<string[]> {
  const entries = await readdir(RALLLY, { withFileTypes: true })
  return entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort()
}

/** Applies migrations as `prisma migrate deploy` does; a failing one is left as Prisma leaves it. */
async function deploy(client: pg.Client, names: readonly string[]): Promise<void> {
  await client.query(`${PRISMA_LEDGER.replace('CREATE TABLE', 'CREATE TABLE IF NOT EXISTS')}`)
  for (const name of names) {
    const script = await readFile(join(RALLLY, name, 'migration.sql'), 'utf8')
    const id = randomUUID()
    await client.query('insert into _prisma_migrations (id, checksum, migration_name) values ($1, $2, $3)', [
      id,
      createHash('sha256').update(script).digest('hex'),
      name,
    ])
    try {
      await client.query(script)
    } catch (error) {
      await client.query('update _prisma_migrations set logs = $2 where id = $1', [id, (error as Error).message])
      throw error
    }
    await client.query(
      'update _prisma_migrations set finished_at = now(), applied_steps_count = applied_steps_count + 1 where id = $1',
      [id],
    )
  }
}

describeWithServer('flux import prisma', (server) => {
  it('takes over a real history half applied by Prisma: same schema, nothing run twice', async () => {
    expect(existsSync(RALLLY), `the corpus is missing at ${RALLLY}`).toBe(true)
    const names = await migrationNames()
    expect(names).toHaveLength(145)
    const half = 72
    const url = await freshDatabase(server)
    await withDatabase(url, (client) => deploy(client, names.slice(0, half)))
    const project = await fluxProject()
    const folder = join(project, 'migrations')

    const dryRun = flux(project, url, 'import', 'prisma', '--store', 'catalog', '--from', RALLLY, '--dry-run')
    expect(dryRun.code, dryRun.stderr).toBe(0)
    expect(dryRun.stdout).toContain(`prisma's _prisma_migrations has ${half} applied; would record ${half}`)
    expect(await filesOf(folder)).toEqual([])

    const imported = flux(project, url, 'import', 'prisma', '--store', 'catalog', '--from', RALLLY)
    expect(imported.code, imported.stderr).toBe(0)
    expect((await filesOf(folder)).filter((file) => file.endsWith('.sql'))).toEqual(names.map((name) => `${name}.sql`))
    for (const name of names) {
      const sections = await sectionsOf(join(folder, `${name}.sql`))
      expect(sections.up, name).toBe(asSection(await readFile(join(RALLLY, name, 'migration.sql'), 'utf8')))
    }
    // Prisma's own BEGIN/COMMIT: flux leaves the transaction to the file
    expect(await readFile(join(folder, '20250226173250_remove_paddle_subscriptions.sql'), 'utf8')).toContain(
      '-- flux:transaction off (it has its own BEGIN/COMMIT)',
    )
    const ids = names.map((name) => `app/${name}`)
    await expectTakenOver(project, url, ['prisma', '--store', 'catalog', '--from', RALLLY], ids, half)

    const byHand = await freshDatabase(server)
    psqlFiles(
      byHand,
      names.map((name) => join(RALLLY, name, 'migration.sql')),
    )
    const expected = schemaDump(byHand)
    expect(expected).toContain('CREATE TABLE public.')
    expect(schemaDump(url, ['public._prisma_migrations'])).toBe(expected)
  })

  it('stops on a failed migration, writing nothing', async () => {
    const names = await migrationNames()
    const url = await freshDatabase(server)
    await withDatabase(url, async (client) => {
      await deploy(client, names.slice(0, 2))
      // the third fails midway, as a deploy against a database that already has its table would
      await client.query('create table "Link" (id int)')
      await expect(deploy(client, [names[2]!])).rejects.toThrow()
    })
    const project = await fluxProject()
    const result = flux(project, url, 'import', 'prisma', '--store', 'catalog', '--from', RALLLY)
    expect(result.code).toBe(3)
    expect(result.stderr).toContain(
      `prisma's _prisma_migrations says ${names[2]} failed (finished_at is null): nothing was imported`,
    )
    expect(result.stderr).toContain('prisma migrate resolve --rolled-back')
    expect(await filesOf(join(project, 'migrations'))).toEqual([])
    expect(await hasTable(url, 'flux_ledger')).toBe(false)

    await withDatabase(url, (client) =>
      client.query('update _prisma_migrations set rolled_back_at = now() where migration_name = $1', [names[2]]),
    )
    const rolledBack = flux(project, url, 'import', 'prisma', '--store', 'catalog', '--from', RALLLY)
    expect(rolledBack.code).toBe(3)
    expect(rolledBack.stderr).toContain(`${names[2]} was rolled back (rolled_back_at is set) and not applied since`)
    expect(await filesOf(join(project, 'migrations'))).toEqual([])

    // applied again, and one more migration applied that the folder does not have
    await withDatabase(url, async (client) => {
      await client.query('drop table "Link"')
      await deploy(client, [names[2]!])
      await client.query(
        `insert into _prisma_migrations (id, checksum, migration_name, finished_at, applied_steps_count) values ($1, $2, '20991231000000_from_another_branch', now(), 1)`,
        [randomUUID(), '0'.repeat(64)],
      )
    })
    const missing = flux(project, url, 'import', 'prisma', '--store', 'catalog', '--from', RALLLY)
    expect(missing.code).toBe(3)
    expect(missing.stderr).toContain(
      "prisma's _prisma_migrations records 20991231000000_from_another_branch as applied, but the migrations folder has no file for it",
    )
    expect(await filesOf(join(project, 'migrations'))).toEqual([])
  })
})
