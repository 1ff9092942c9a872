import { spawnSync } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { expect } from 'vitest'
import {
  asSection,
  describeWithServer,
  filesOf,
  flux,
  fluxLedger,
  fluxProject,
  freshDatabase,
  psqlFiles,
  schemaDump,
  sectionsOf,
  statuses,
  tempDir,
  toolFromScript,
  withDatabase,
} from './import-helpers.ts'

// sqitch itself (Debian's package, installed by scripts/sqitch.sh when missing) deploys the first
// part of a project written to its documented layout; then `flux import sqitch` and `flux up`
// take over. The project reworks a change after a tag, as sqitch's tutorial does.
// Skipped when it cannot be installed, but failing under CI, where a broken install must show.
const { path: SQITCH, test: testWithTool } = toolFromScript('sqitch.sh', 'sqitch')

const PLAN = `%syntax-version=1.0.0
%project=flipr
%uri=https://example.com/flipr/

appschema 2026-01-01T10:00:00Z Marge N. O'Vera <marge@example.com> # Add schema for all flipr objects.
users [appschema] 2026-01-02T10:00:00Z Marge N. O'Vera <marge@example.com> # Creates table to track our users.
hash_password [appschema] 2026-01-03T10:00:00Z Marge N. O'Vera <marge@example.com> # Hashes a password.
@v1.0 2026-01-04T10:00:00Z Marge N. O'Vera <marge@example.com> # Tag v1.0.

flips [appschema users] 2026-01-05T10:00:00Z Marge N. O'Vera <marge@example.com> # Adds table for storing flips.
hash_password [hash_password@v1.0] 2026-01-06T10:00:00Z Marge N. O'Vera <marge@example.com> # Salts the hash.
flips_nickname [flips] 2026-01-07T10:00:00Z Marge N. O'Vera <marge@example.com> # Indexes flips by user.
`

const wrap = (change: string, body: string) => `-- Deploy flipr:${change} to pg\n\nBEGIN;\n\n${body}\n\nCOMMIT;\n`
const FILES: Record<string, string> = {
  'deploy/appschema.sql': wrap('appschema', 'CREATE SCHEMA flipr;'),
  'revert/appschema.sql': wrap('appschema', 'DROP SCHEMA flipr;'),
  'deploy/users.sql': wrap(
    'users',
    'CREATE TABLE flipr.users (\n    nickname  TEXT PRIMARY KEY,\n    password  TEXT NOT NULL\n);',
  ),
  'revert/users.sql': wrap('users', 'DROP TABLE flipr.users;'),
  'deploy/hash_password@v1.0.sql': wrap(
    'hash_password',
    'CREATE OR REPLACE FUNCTION flipr.hash(password TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$\n    SELECT md5($1);\n$$;',
  ),
  'revert/hash_password@v1.0.sql': wrap('hash_password', 'DROP FUNCTION flipr.hash(TEXT);'),
  'deploy/flips.sql': wrap(
    'flips',
    'CREATE TABLE flipr.flips (\n    id        BIGSERIAL PRIMARY KEY,\n    nickname  TEXT NOT NULL REFERENCES flipr.users(nickname),\n    body      TEXT NOT NULL\n);',
  ),
  'revert/flips.sql': wrap('flips', 'DROP TABLE flipr.flips;'),
  'deploy/hash_password.sql': wrap(
    'hash_password',
    "CREATE OR REPLACE FUNCTION flipr.hash(password TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$\n    SELECT md5('salt' || $1);\n$$;",
  ),
  'revert/hash_password.sql': wrap(
    'hash_password',
    'CREATE OR REPLACE FUNCTION flipr.hash(password TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$\n    SELECT md5($1);\n$$;',
  ),
  'deploy/flips_nickname.sql': wrap('flips_nickname', 'CREATE INDEX flips_nickname ON flipr.flips (nickname);'),
  'revert/flips_nickname.sql': wrap('flips_nickname', 'DROP INDEX flipr.flips_nickname;'),
}
const ORDER = [
  ['0001_appschema', 'appschema.sql'],
  ['0002_users', 'users.sql'],
  ['0003_hash_password', 'hash_password@v1.0.sql'],
  ['0004_flips', 'flips.sql'],
  ['0005_hash_password', 'hash_password.sql'],
  ['0006_flips_nickname', 'flips_nickname.sql'],
] as const

async function writeProject(): Promise<string> {
  const dir = await tempDir('sqitch')
  await writeFile(join(dir, 'sqitch.conf'), '[core]\n\tengine = pg\n')
  await writeFile(join(dir, 'sqitch.plan'), PLAN)
  for (const folder of ['deploy', 'revert']) await mkdir(join(dir, folder))
  for (const [file, text] of Object.entries(FILES)) await writeFile(join(dir, file), text)
  return dir
}

function sqitch(dir: string, url: string, ...args: string[]): { code: number | null; output: string } {
  const target = `db:${url.replace(/^postgres(ql)?:/, 'pg:')}`
  const result = spawnSync(SQITCH!, [...args, target], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, SQITCH_FULLNAME: 'Flux Test', SQITCH_EMAIL: 'flux@example.com' },
  })
  return { code: result.status, output: result.stdout + result.stderr }
}

describeWithServer('flux import sqitch', (server) => {
  testWithTool(
    'takes over a project half deployed by sqitch, a reworked change included: same schema, reverts work',
    async () => {
      const history = await writeProject()
      const url = await freshDatabase(server)
      const deployed = sqitch(history, url, 'deploy', '--no-verify', '--to', 'flips')
      expect(deployed.code, deployed.output).toBe(0)
      const project = await fluxProject()
      const folder = join(project, 'migrations')

      const imported = flux(project, url, 'import', 'sqitch', '--store', 'catalog', '--from', history)
      expect(imported.code, imported.stderr).toBe(0)
      expect(imported.stdout).toContain("sqitch's sqitch.changes has 4 applied; recorded 4 in flux's ledger")
      expect((await filesOf(folder)).filter((file) => file.endsWith('.sql'))).toEqual(
        ORDER.map(([name]) => `${name}.sql`),
      )
      for (const [name, file] of ORDER) {
        const sections = await sectionsOf(join(folder, `${name}.sql`))
        expect(sections.up, name).toBe(asSection(FILES[`deploy/${file}`]!))
        expect(sections.down, name).toBe(asSection(FILES[`revert/${file}`]!))
      }
      expect(await readFile(join(folder, '0003_hash_password.sql'), 'utf8')).toContain(
        '-- flux:transaction off (it has its own BEGIN/COMMIT)\n-- imported by `flux import sqitch` from deploy/hash_password@v1.0.sql, revert/hash_password@v1.0.sql\n',
      )
      expect(ORDER.map(([name]) => statuses(project, url)[`app/${name}`])).toEqual([
        'applied',
        'applied',
        'applied',
        'applied',
        'pending',
        'pending',
      ])
      const again = flux(project, url, 'import', 'sqitch', '--store', 'catalog', '--from', history)
      expect(again.code, again.stderr).toBe(0)
      expect(again.stdout).toContain('nothing to import')

      const up = flux(project, url, 'up')
      expect(up.code, up.stderr).toBe(0)
      const runOf = new Map((await fluxLedger(url)).map((row) => [row.id, row.run_id]))
      expect(runOf.get('app/0004_flips')).toBe(runOf.get('app/0001_appschema'))
      expect(runOf.get('app/0005_hash_password')).not.toBe(runOf.get('app/0001_appschema'))
      // sqitch's registry is left as it was
      expect(
        await withDatabase(
          url,
          async (client) => (await client.query('select change from sqitch.changes order by committed_at')).rows,
        ),
      ).toEqual([{ change: 'appschema' }, { change: 'users' }, { change: 'hash_password' }, { change: 'flips' }])

      const byHand = await freshDatabase(server)
      psqlFiles(
        byHand,
        ORDER.map(([, file]) => join(history, 'deploy', file)),
      )
      const expected = schemaDump(byHand)
      expect(expected).toContain("SELECT md5('salt' || $1)")
      const dumpOf = () => schemaDump(url, [], ['sqitch'])
      expect(dumpOf()).toBe(expected)

      const down = flux(project, url, 'down', '--steps', '3', '--yes')
      expect(down.code, down.stderr + down.stdout).toBe(0)
      const reapplied = flux(project, url, 'up')
      expect(reapplied.code, reapplied.stderr).toBe(0)
      expect(dumpOf()).toBe(expected)
    },
  )

  testWithTool('stops on a deployed change that the plan no longer has, writing nothing', async () => {
    const history = await writeProject()
    const url = await freshDatabase(server)
    const deployed = sqitch(history, url, 'deploy', '--no-verify', '--to', 'users')
    expect(deployed.code, deployed.output).toBe(0)
    // the plan as another branch has it: users planned at another time
    await writeFile(
      join(history, 'sqitch.plan'),
      PLAN.replace('users [appschema] 2026-01-02T10:00:00Z', 'users [appschema] 2026-02-02T10:00:00Z'),
    )
    const project = await fluxProject()
    const result = flux(project, url, 'import', 'sqitch', '--store', 'catalog', '--from', history)
    expect(result.code).toBe(3)
    expect(result.stderr).toContain(
      "sqitch's sqitch.changes records users (planned 2026-01-02T10:00:00.000Z) as applied, but sqitch.plan has no change for it",
    )
    expect(await filesOf(join(project, 'migrations'))).toEqual([])
  })
})
