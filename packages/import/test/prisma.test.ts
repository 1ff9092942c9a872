import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { copyFile, cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
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
  type Run,
  schemaDump,
  sectionsOf,
  tempDir,
  withDatabase,
} from './import-helpers.ts'

// The first half of Rallly's real history is applied by the real `prisma migrate deploy`, which
// creates and fills `_prisma_migrations` itself. Prisma 6 can migrate through a driver adapter
// with its schema engine compiled to Wasm, shipped in the npm package: test/prisma/prisma.config.ts
// says how, and why its @prisma/adapter-pg sends each script whole. (The native engine that
// Prisma 7 needs is a download from Prisma's own host, which CI cannot reach.)
const RALLLY = join(CORPORA, 'rallly-prisma')
const here = dirname(fileURLToPath(import.meta.url))
const PRISMA_CLI = createRequire(import.meta.url).resolve('prisma/build/index.js')
const PRISMA_CONFIG = join(here, 'prisma', 'prisma.config.ts')

async function migrationNames(): Promise<string[]> {
  const entries = await readdir(RALLLY, { withFileTypes: true })
  return entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort()
}

/** A Prisma project's migrations folder holding the corpus's migrations `names` and its lock file. */
async function prismaProject(names: readonly string[]): Promise<string> {
  const project = await tempDir('prisma')
  await mkdir(join(project, 'migrations'))
  await copyFile(join(RALLLY, 'migration_lock.toml'), join(project, 'migrations', 'migration_lock.toml'))
  for (const name of names) await cp(join(RALLLY, name), join(project, 'migrations', name), { recursive: true })
  return project
}

/**
 * `prisma <args>` on `project`'s migrations and the database at `url`. A run that succeeds ends
 * about 10 s after its work is done, when a timer that the Wasm engine leaves behind runs out.
 */
function prisma(project: string, url: string, ...args: string[]): Run {
  const result = spawnSync(process.execPath, [PRISMA_CLI, ...args, '--config', PRISMA_CONFIG], {
    cwd: project,
    env: {
      ...process.env,
      DATABASE_URL: url,
      FLUX_PRISMA_PROJECT: project,
      CHECKPOINT_DISABLE: '1',
      PRISMA_HIDE_UPDATE_MESSAGE: '1',
      NO_COLOR: '1',
    },
    encoding: 'utf8',
  })
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}

describeWithServer('flux import prisma', (server) => {
  it('takes over a real history half applied by Prisma: same schema, nothing run twice', async () => {
    expect(existsSync(RALLLY), `the corpus is missing at ${RALLLY}`).toBe(true)
    const names = await migrationNames()
    expect(names).toHaveLength(145)
    const half = 72
    const url = await freshDatabase(server)
    const deployed = prisma(await prismaProject(names.slice(0, half)), url, 'migrate', 'deploy')
    expect(deployed.code, deployed.stderr).toBe(0)
    expect(deployed.stdout).toContain('using driver adapter "@prisma/adapter-pg"')
    expect(deployed.stdout).toContain('All migrations have been successfully applied.')
    // what the import relies on, as Prisma writes it: a finished row per migration, none rolled back
    const ledger = await withDatabase(url, async (client) => {
      const { rows } = await client.query(
        'select migration_name, checksum, finished_at, rolled_back_at, applied_steps_count from _prisma_migrations order by started_at, migration_name',
      )
      return rows
    })
    const expectedLedger = await Promise.all(
      names.slice(0, half).map(async (name) => ({
        migration_name: name,
        checksum: createHash('sha256')
          .update(await readFile(join(RALLLY, name, 'migration.sql')))
          .digest('hex'),
        finished_at: expect.any(Date),
        rolled_back_at: null,
        applied_steps_count: 1,
      })),
    )
    expect(ledger).toEqual(expectedLedger)
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

  it('stops on a migration that failed under Prisma, writing nothing', async () => {
    const names = await migrationNames()
    const url = await freshDatabase(server)
    // the third fails: its CREATE OR REPLACE FUNCTION nanoid cannot change the one found there
    await withDatabase(url, (client) =>
      client.query(`create function nanoid(size int default 21) returns int language sql as 'select 1'`),
    )
    const prismaDir = await prismaProject(names.slice(0, 3))
    const failed = prisma(prismaDir, url, 'migrate', 'deploy')
    expect(failed.code).toBe(1)
    expect(failed.stderr).toContain(`with migration_name="${names[2]}"`)
    expect(failed.stderr).toContain('cannot change return type of existing function')
    const project = await fluxProject()
    const result = flux(project, url, 'import', 'prisma', '--store', 'catalog', '--from', RALLLY)
    expect(result.code).toBe(3)
    expect(result.stderr).toContain(
      `prisma's _prisma_migrations says ${names[2]} failed (finished_at is null): nothing was imported`,
    )
    expect(result.stderr).toContain('prisma migrate resolve --rolled-back')
    expect(await filesOf(join(project, 'migrations'))).toEqual([])
    expect(await hasTable(url, 'flux_ledger')).toBe(false)

    // what `prisma migrate resolve --rolled-back` writes: Prisma 6 runs resolve on its native engine only
    await withDatabase(url, (client) =>
      client.query(
        'update _prisma_migrations set rolled_back_at = now() where migration_name = $1 and finished_at is null',
        [names[2]],
      ),
    )
    const rolledBack = flux(project, url, 'import', 'prisma', '--store', 'catalog', '--from', RALLLY)
    expect(rolledBack.code).toBe(3)
    expect(rolledBack.stderr).toContain(`${names[2]} was rolled back (rolled_back_at is set) and not applied since`)
    expect(await filesOf(join(project, 'migrations'))).toEqual([])

    // applied again, and one more applied that the corpus does not have (from another branch)
    await withDatabase(url, (client) => client.query('drop function nanoid(int)'))
    const other = join(prismaDir, 'migrations', '20991231000000_from_another_branch')
    await mkdir(other)
    await writeFile(join(other, 'migration.sql'), 'CREATE TABLE "FromAnotherBranch" ("id" INTEGER NOT NULL);\n')
    const redeployed = prisma(prismaDir, url, 'migrate', 'deploy')
    expect(redeployed.code, redeployed.stderr).toBe(0)
    expect(redeployed.stdout).toContain('All migrations have been successfully applied.')
    const missing = flux(project, url, 'import', 'prisma', '--store', 'catalog', '--from', RALLLY)
    expect(missing.code).toBe(3)
    expect(missing.stderr).toContain(
      "prisma's _prisma_migrations records 20991231000000_from_another_branch as applied, but the migrations folder has no file for it",
    )
    expect(await filesOf(join(project, 'migrations'))).toEqual([])
  })
})
