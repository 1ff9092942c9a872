// The mistakes of a first hour with flux, as a user meets them: each is refused with one line
// that names the thing, a `where:` line when there is a place in a file, and a hint.
import { spawn } from 'node:child_process'
import { cp, mkdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { countingMigration, effects, emptyProject, finish, flux, project, type Result } from './helpers.ts'

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..')
const REPO = join(CLI, '..', '..')
const PG_URL = process.env.FLUX_TEST_PG_URL

/** The common promises of a refusal: its exit code, flux's own words, no stack, a hint. */
function expectRefusal(result: Result, code: number, ...lines: string[]) {
  expect(result.code, result.stderr).toBe(code)
  expect(result.stderr).toMatch(/^error: /)
  for (const line of lines) expect(result.stderr).toContain(line)
  expect(result.stderr).toContain('\n  hint: ')
  expect(result.stderr).not.toMatch(/^\s+at /m)
  expect(result.stderr).not.toContain('dist/')
}

async function config(dir: string, source: string) {
  await writeFile(join(dir, 'flux.config.ts'), source)
}

describe('a mistyped command or option', () => {
  it('names the closest command or option, never parseArgs text', async () => {
    const dir = await emptyProject()
    const cases: [string[], string, string][] = [
      [['staus'], 'error: unknown command "staus"; did you mean "status"?', 'run `flux --help` to see the commands'],
      [['up', '--jsn'], 'error: unknown option --jsn for flux up; did you mean --json?', 'run `flux up --help`'],
      [['graph', '--dwn', 'x'], 'unknown option --dwn for flux graph; did you mean --down?', 'flux graph --help'],
      [['new', 'x', '--store'], 'error: option --store of flux new needs a value: --store <store>', 'flux new --help'],
      [['new', 'x', '--store', '--json'], 'option --store of flux new needs a value, but is followed by --json', ''],
      [['up', '--json=yes'], 'error: option --json of flux up takes no value (got --json=yes)', 'flux up --help'],
      [['up', '-x'], 'error: unknown option -x for flux up\n', ''],
    ]
    for (const [args, message, hint] of cases) {
      const result = await flux(args, dir)
      expectRefusal(result, 2, message, hint)
      expect(result.stderr, args.join(' ')).not.toMatch(/Unknown option '|argument missing|does not take an argument/)
      expect(result.stderr.trimEnd().split('\n')).toHaveLength(2)
    }
    const far = await flux(['frobnicate'], dir)
    expectRefusal(far, 2, 'error: unknown command "frobnicate"\n')
  })
})

describe('a configuration error', () => {
  it('stores: {} is refused, with a store line as hint', async () => {
    const dir = await project({})
    await config(dir, "import { defineConfig } from '@flux/core'\nexport default defineConfig({ stores: {} })\n")
    for (const command of ['status', 'up']) {
      const result = await flux([command], dir)
      expectRefusal(
        result,
        2,
        'error: flux.config.ts: `stores` is empty; flux needs at least one store to migrate',
        "hint: add a store, e.g. stores: { files: fsStore({ root: './var/files' }) }",
      )
    }
  })

  it('an unset environment variable in a store url names the store and the variable', async () => {
    const dir = await project({ '001_a.ts': countingMigration('001_a') })
    await config(
      dir,
      `import { defineConfig } from '@flux/core'
import { fsStore } from '@flux/fs'
import { pgStore } from '@flux/pg'
import { redisStore } from '@flux/redis'
const cacheUrl = process.env.FLUX_FIRST_HOUR_REDIS_URL
export default defineConfig({
  stores: {
    files: fsStore({ root: './var/files' }),
    catalog: pgStore({ url: process.env.FLUX_FIRST_HOUR_DATABASE_URL }),
    cache: redisStore({ url: cacheUrl }),
  },
})
`,
    )
    const unset = await flux(['up'], dir)
    expectRefusal(
      unset,
      2,
      'error: store "catalog": its url is not set: flux.config.ts reads environment variable FLUX_FIRST_HOUR_DATABASE_URL, which is not set\n',
      '  where: flux.config.ts:9:14\n',
      '  hint: set it, e.g. export FLUX_FIRST_HOUR_DATABASE_URL=postgres://',
    )
    const empty = await flux(['status'], dir, { FLUX_FIRST_HOUR_DATABASE_URL: '' })
    expectRefusal(empty, 2, 'FLUX_FIRST_HOUR_DATABASE_URL, which is empty')
    // the next store, whose variable is read through a constant
    const redis = await flux(['status'], dir, { FLUX_FIRST_HOUR_DATABASE_URL: 'postgres://127.0.0.1:1/x' })
    expectRefusal(
      redis,
      2,
      'error: store "cache": its url is not set: flux.config.ts reads environment variable FLUX_FIRST_HOUR_REDIS_URL, which is not set',
      'export FLUX_FIRST_HOUR_REDIS_URL=redis://',
    )
    expect(await effects(dir)).toEqual([])

    // commands that open no store work without the variables: writing a migration, its sum, the graph
    for (const args of [['new', 'add_rooms', '--store', 'catalog'], ['sum'], ['heads'], ['graph']]) {
      const result = await flux(args, dir)
      expect(result.code, `flux ${args.join(' ')}: ${result.stderr}`).toBe(0)
    }
    expect((await flux(['heads'], dir)).stdout).toContain('_add-rooms')
    // and those that read a ledger still name what is missing
    expectRefusal(await flux(['graph', '--status'], dir), 2, 'FLUX_FIRST_HOUR_DATABASE_URL, which is not set')
    expectRefusal(await flux(['verify'], dir), 2, 'FLUX_FIRST_HOUR_DATABASE_URL, which is not set')
  })

  it('a syntax error or a throw in the config shows where', async () => {
    const dir = await project({ '001_a.ts': countingMigration('001_a') })
    await config(
      dir,
      "import { defineConfig } from '@flux/core'\nconst n: number = 1\nthrow new Error('no config today')\n",
    )
    expectRefusal(
      await flux(['status'], dir),
      2,
      'error: flux.config.ts could not be loaded: no config today\n',
      '  where: flux.config.ts:3:7\n',
    )
    await config(dir, "import { defineConfig } from '@flux/core'\nexport default defineConfig({\n  stores: {\n})\n")
    expectRefusal(
      await flux(['status'], dir),
      2,
      'error: flux.config.ts could not be loaded: ',
      '  where: flux.config.ts:4',
    )
  })
})

/**
 * The CLI as a user installs it: its bin and dist with @flux/core and @flux/fs beside it,
 * and no other adapter (the workspace's CLI has them all as dev dependencies).
 */
async function cliWithoutAdapters(): Promise<string> {
  const dir = await emptyProject()
  for (const entry of ['bin', 'dist', 'package.json']) await cp(join(CLI, entry), join(dir, entry), { recursive: true })
  await mkdir(join(dir, 'node_modules', '@flux'), { recursive: true })
  for (const name of ['core', 'fs']) {
    await symlink(join(REPO, 'packages', name), join(dir, 'node_modules', '@flux', name), 'dir')
  }
  return join(dir, 'bin', 'flux.js')
}

describe('an adapter that is not installed', () => {
  it('names the store, the package and the install command of the project', async () => {
    const bin = await cliWithoutAdapters()
    const dir = await project({ '001_a.ts': countingMigration('001_a') })
    await config(
      dir,
      `import { defineConfig } from '@flux/core'
import { fsStore } from '@flux/fs'
import { pgStore } from '@flux/pg'
export default defineConfig({
  stores: {
    files: fsStore({ root: './var/files' }),
    catalog: pgStore({ url: process.env.DATABASE_URL }),
  },
})
`,
    )
    const npm = await run(bin, ['up'], dir)
    expectRefusal(
      npm,
      2,
      'error: store "catalog" needs the adapter @flux/pg, which is not installed\n',
      '  where: flux.config.ts:3:26\n',
      '  hint: install it: npm install -D @flux/pg\n',
    )
    await writeFile(join(dir, 'pnpm-lock.yaml'), "lockfileVersion: '9.0'\n")
    expectRefusal(await run(bin, ['status'], dir), 2, 'hint: install it: pnpm add -D @flux/pg')
    expect(await effects(dir)).toEqual([])
  })

  it('in a migration, names the migration file and the import', async () => {
    const bin = await cliWithoutAdapters()
    const dir = await project({
      '001_a.ts': countingMigration('001_a'),
      '002_b.ts': `import { defineMigration } from '@flux/core'\nimport type { PgClient } from '@flux/pg'\nimport { sqlOf } from '@flux/pg'\nexport default defineMigration({ store: 'files', up() {} })\n`,
    })
    await writeFile(join(dir, 'yarn.lock'), '')
    expectRefusal(
      await run(bin, ['up'], dir),
      2,
      'error: migrations/002_b.ts needs the adapter @flux/pg, which is not installed\n',
      '  where: migrations/002_b.ts:3:24\n',
      'hint: install it: yarn add -D @flux/pg',
    )
    expect(await effects(dir)).toEqual([])
  })
})

describe('a migration that fails to load or throws', () => {
  const ok = countingMigration
  const cases: [string, string, string[]][] = [
    [
      '002_b.ts',
      "import { defineMigration } from '@flux/core'\nexport default defineMigration({\n  store: 'files',\n  up() { return 1 +* 2 },\n})\n",
      // Node's TypeScript parser gives the line, and a column only for some errors
      ["error: migrations/002_b.ts could not be loaded: Expected ',', got '}'\n", '  where: migrations/002_b.ts:4'],
    ],
    [
      '002_b.mjs',
      "import { defineMigration } from '@flux/core'\nexport default defineMigration({\n  store: 'files',\n  up() { return 1 +* 2 },\n})\n",
      [
        "error: migrations/002_b.mjs could not be loaded: Unexpected token '*'\n",
        '  where: migrations/002_b.mjs:4:20\n',
      ],
    ],
    [
      '002_b.ts',
      "import { defineMigration } from '@flux/core'\nimport { helper } from './helper.ts'\nexport default defineMigration({ store: 'files', up() {} })\n",
      [
        'error: migrations/002_b.ts imports migrations/helper.ts, which does not exist\n',
        '  where: migrations/002_b.ts:2:25\n',
      ],
    ],
    [
      '002_b.ts',
      "import { defineMigration } from '@flux/core'\nconst n: number = 1\nthrow new Error('not today')\nexport default defineMigration({ store: 'files', up() {} })\n",
      ['error: migrations/002_b.ts could not be loaded: not today\n', '  where: migrations/002_b.ts:3:7\n'],
    ],
  ]
  for (const [name, source, lines] of cases) {
    it(`${lines[0]!.slice(7, 60)}…`, async () => {
      const dir = await project({ '001_a.ts': ok('001_a'), [name]: source })
      for (const command of ['plan', 'up']) expectRefusal(await flux([command], dir), 2, ...lines)
      expect(await effects(dir)).toEqual([])
    })
  }

  it('a throw in up() shows the line of the migration, not of flux', async () => {
    const dir = await project({
      '001_a.ts': ok('001_a'),
      '002_b.ts':
        "import { defineMigration } from '@flux/core'\nexport default defineMigration({\n  store: 'files',\n  async up() {\n    const n: number = 1\n    throw new Error('no room')\n  },\n})\n",
    })
    const result = await flux(['up'], dir)
    expectRefusal(result, 1, 'error: migration app/002_b failed (up): no room\n', '  where: migrations/002_b.ts:6:11\n')
    expect(await effects(dir)).toEqual(['001_a'])
  })
})

describe('a .sql migration on a store that cannot run SQL', () => {
  it('is refused by plan and up before anything runs', async () => {
    const dir = await project({ '001_a.ts': countingMigration('001_a') })
    await writeFile(join(dir, 'migrations', '002_index.sql'), '-- flux:store files\n-- flux:up\nselect 1;\n')
    // without a pg store, a .sql file would otherwise be passed over
    for (const command of ['plan', 'up']) {
      expectRefusal(
        await flux([command], dir),
        2,
        'error: migrations/002_index.sql: no store in the config runs .sql migrations (a pg store does)\n',
        'hint: add a pg store to the config',
      )
    }
    await config(
      dir,
      `import { defineConfig } from '@flux/core'
import { fsStore } from '@flux/fs'
import { pgStore } from '@flux/pg'
export default defineConfig({
  stores: { files: fsStore({ root: './var/files' }), catalog: pgStore({ url: process.env.FLUX_TEST_PG_URL }) },
})
`,
    )
    for (const command of ['plan', 'up']) {
      expectRefusal(
        await flux([command], dir),
        2,
        'error: migrations/002_index.sql: a .sql migration cannot run on store "files", which is fs; .sql migrations run on "catalog" (pg)\n',
      )
    }
    expect(await effects(dir)).toEqual([])
  })

  it.skipIf(!PG_URL)("reads the README's example header as written", async () => {
    const readme = await readFile(join(REPO, 'README.md'), 'utf8')
    const example = /A pg store also reads `\.sql` migrations[\s\S]*?```sql\n([\s\S]*?)```/.exec(readme)?.[1]
    expect(example, 'the .sql example under "A pg store also reads `.sql` migrations"').toBeDefined()
    const store = /-- flux:store (\S+)/.exec(example!)![1]!
    const parent = /-- flux:parents (\S+)/.exec(example!)?.[1]
    const dir = await project({})
    const schema = `first_hour_${process.pid}`
    await config(
      dir,
      `import { defineConfig } from '@flux/core'
import { pgStore } from '@flux/pg'
export default defineConfig({ stores: { ${store}: pgStore({ url: process.env.FLUX_TEST_PG_URL, schema: '${schema}' }) } })
`,
    )
    if (parent)
      await writeFile(join(dir, 'migrations', `${parent}.sql`), `-- flux:store ${store}\n-- flux:up\nselect 1;\n`)
    await writeFile(join(dir, 'migrations', '20261207000000_example.sql'), example!)
    const plan = await flux(['plan', '--json'], dir)
    expect(plan.code, plan.stderr).toBe(0)
    const steps = JSON.parse(plan.stdout).steps as { id: string; transaction?: boolean }[]
    expect(steps.map((step) => step.id)).toContain('app/20261207000000_example')
  })
})

describe("a component package's migrations", () => {
  /** A project with the fs store `files` and @travel/images installed, its role `blobs` bound to `files`. */
  async function withComponent(files: Record<string, string>, extraStores = ''): Promise<string> {
    const dir = await project({ '001_a.ts': countingMigration('001_a') })
    await writeFile(
      join(dir, 'package.json'),
      JSON.stringify({ name: 'site', type: 'module', dependencies: { '@travel/images': '1.0.0' } }),
    )
    const target = join(dir, 'node_modules', '@travel', 'images')
    await mkdir(join(target, 'migrations'), { recursive: true })
    const flux = { migrations: './migrations', stores: { blobs: ['fs', 'pg'] } }
    await writeFile(
      join(target, 'package.json'),
      JSON.stringify({ name: '@travel/images', version: '1.0.0', type: 'module', flux }),
    )
    for (const [name, text] of Object.entries(files)) await writeFile(join(target, 'migrations', name), text)
    await config(
      dir,
      `import { defineConfig } from '@flux/core'
import { fsStore } from '@flux/fs'
${extraStores ? "import { pgStore } from '@flux/pg'\n" : ''}export default defineConfig({
  stores: { files: fsStore({ root: './var/files' }),${extraStores} },
  components: { '@travel/images': { stores: { blobs: 'files' } } },
})
`,
    )
    return dir
  }

  it('one that imports an adapter that is not installed is named', async () => {
    const bin = await cliWithoutAdapters()
    const dir = await withComponent({
      '001_layout.js':
        "import { defineMigration } from '@flux/core'\nimport { sqlOf } from '@flux/pg'\nexport default defineMigration({ store: 'blobs', up() {} })\n",
    })
    expectRefusal(
      await run(bin, ['up'], dir),
      2,
      'error: node_modules/@travel/images/migrations/001_layout.js needs the adapter @flux/pg, which is not installed\n',
      '  where: node_modules/@travel/images/migrations/001_layout.js:2:24\n',
      'hint: install it: npm install -D @flux/pg',
    )
    expect(await effects(dir)).toEqual([])
  })

  it('a .sql one whose role is bound to an fs store is refused at plan time', async () => {
    const dir = await withComponent(
      { '001_layout.sql': '-- flux:store blobs\n-- flux:up\nselect 1;\n' },
      ' catalog: pgStore({ url: process.env.FLUX_TEST_PG_URL })',
    )
    for (const command of ['plan', 'up']) {
      expectRefusal(
        await flux([command], dir),
        2,
        'error: node_modules/@travel/images/migrations/001_layout.sql: a .sql migration cannot run on store "files", which is fs',
        "hint: bind the component's role to a store that runs .sql migrations",
      )
    }
    expect(await effects(dir)).toEqual([])
  })
})

/** `flux <args>` from another copy of the CLI, the way `start()` runs the workspace's. */
function run(bin: string, args: string[], cwd: string): Promise<Result> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' }
  delete env.FORCE_COLOR
  return finish(spawn(process.execPath, [bin, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] }))
}
