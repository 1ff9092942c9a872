// The README's code blocks, used as a reader would use them: every block that is a command or
// a file is run, loaded or applied here (or, for the install line, by the registry test in
// install/), so the README cannot drift from what flux does. A block no test knows fails the
// first test: give it a case below when you add one to the README.

import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describeWithServer } from '@flux/core/testing'
import { afterAll, describe, expect, it } from 'vitest'
import { pg } from './drivers.ts'
import { emptyProject, flux, statusJson } from './helpers.ts'

const README = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'README.md')

interface Block {
  lang: string
  text: string
  /** 1-based line of the opening fence. */
  line: number
}

async function readmeBlocks(): Promise<Block[]> {
  const lines = (await readFile(README, 'utf8')).split('\n')
  const blocks: Block[] = []
  for (let index = 0; index < lines.length; index++) {
    const open = /^```(\w*)\s*$/.exec(lines[index]!)
    if (!open) continue
    const end = lines.findIndex((line, at) => at > index && line.startsWith('```'))
    blocks.push({ lang: open[1]!, text: lines.slice(index + 1, end).join('\n'), line: index + 1 })
    index = end
  }
  return blocks
}

/** The block that contains `marker`: exactly one must. */
async function block(marker: string): Promise<Block> {
  const found = (await readmeBlocks()).filter((candidate) => candidate.text.includes(marker))
  if (found.length !== 1) throw new Error(`README.md: ${found.length} code blocks contain ${JSON.stringify(marker)}`)
  return found[0]!
}

/** What identifies each block, and who exercises it. */
const CASES: Record<string, string> = {
  './scripts/test':
    '.ci/run runs it; scripts/demo runs story/demo.ts, run by apps/demo-travel-site/test/story-demo.test.ts',
  'npx flux init': 'the quickstart, below, and with a real install in install/ (pnpm test:install)',
  'stores: {\n    photos: fsStore': 'the config, below',
  'defineMigration<FsClient>': 'the migration, below',
  '-- flux:transaction off': 'the .sql header, below',
  'tenants: fleet({': 'the fleet of tenant schemas, below',
  '-- migrations/20261201090000_invoices.sql': "the fleet's migration, below",
  'TENANTS=acme,globex npx flux up': "the fleet's commands, below",
  '-v "$PWD:/workspace"': 'scripts/image test runs its podman run lines, in a pg project',
  '"flux": { "migrations"': 'a component package, below',
  "components: { '@travel/images'": 'a component bound to a store, below',
  'checkStairway(project)': 'the testing helpers, below',
  '// migrations/20260301000000_copy_reviews.ts': 'packages/mongo/test/copy-from-pg.test.ts runs it (pg → mongo)',
  '// migrations/20260301000000_copy_photos.ts': 'packages/s3/test/copy-blobs.test.ts runs it (fs → s3)',
  'the copy does not match its source': "verifyCopy's message, asserted by packages/mongo/test/copy-from-pg.test.ts",
}

describe('README.md', () => {
  it('has no code block that no test exercises', async () => {
    const unknown = (await readmeBlocks()).filter(
      (candidate) => !Object.keys(CASES).some((marker) => candidate.text.includes(marker)),
    )
    expect(unknown.map((candidate) => `README.md:${candidate.line}`)).toEqual([])
  })

  it('quickstart: init, new, sum, up and status run as written', async () => {
    const quickstart = await block('npx flux init')
    const commands = quickstart.text
      .split('\n')
      .map((line) => line.replace(/\s+#.*$/, '').trim())
      .filter((line) => line.startsWith('npx flux '))
      .map((line) => line.slice('npx flux '.length).split(/\s+/))
    expect(commands.map(([name]) => name)).toEqual(['init', 'new', 'sum', 'up', 'status'])
    const dir = await emptyProject()
    for (const args of commands) {
      const result = await flux(args, dir)
      expect(result.code, `flux ${args.join(' ')}\n${result.stderr}`).toBe(0)
      if (args[0] === 'new') {
        // the reader writes up(): here it puts a file in the store
        const [file] = (await readdir(join(dir, 'migrations'))).filter((name) => name.endsWith('.ts'))
        const path = join(dir, 'migrations', file!)
        const source = await readFile(path, 'utf8')
        const edited = source.replace(
          /async up\(\{([^}]*)\}\) \{/,
          "async up({ store }) {\n    await store.put('hello.txt', 'hi')",
        )
        expect(edited, 'the template has an up({ … }) to write in').not.toBe(source)
        await writeFile(path, edited)
      }
    }
    expect(await readFile(join(dir, 'var/files/hello.txt'), 'utf8')).toBe('hi')
    expect(await statusJson(dir)).toEqual([expect.objectContaining({ status: 'applied' })])
  })

  it('the config and the migration load and run as written', async () => {
    const dir = await emptyProject()
    await writeFile(join(dir, 'flux.config.ts'), (await block('stores: {\n    photos: fsStore')).text)
    await mkdir(join(dir, 'migrations'))
    await writeFile(
      join(dir, 'migrations', '20261121093000_add-photos.ts'),
      (await block('defineMigration<FsClient>')).text,
    )
    const up = await flux(['up'], dir)
    expect(up.code, up.stderr).toBe(0)
    expect(up.stdout).toContain('app/20261121093000_add-photos')
    expect(await readFile(join(dir, 'var/photos/README.txt'), 'utf8')).toBe('hotel photos\n')
    const down = await flux(['down', 'base', '--yes'], dir)
    expect(down.code, down.stderr).toBe(0)
    expect(await readdir(join(dir, 'var/photos'))).not.toContain('README.txt')
  })

  it('the testing helpers run in a test file as shown', async () => {
    // the block is the body of a test file in the reader's project, where @flux/core is
    // installed: here a folder of this package, so that it resolves, run by vitest
    const here = dirname(fileURLToPath(import.meta.url))
    const dir = join(here, `.readme-${randomBytes(4).toString('hex')}`)
    await mkdir(join(dir, 'migrations'), { recursive: true })
    try {
      await writeFile(join(dir, 'flux.config.ts'), (await block('stores: {\n    photos: fsStore')).text)
      await writeFile(join(dir, 'migrations', '001_add-photos.ts'), (await block('defineMigration<FsClient>')).text)
      await writeFile(join(dir, 'vitest.config.mjs'), "export default { test: { include: ['*.test.ts'] } }\n")
      const testFile = join(dir, 'migrations.test.ts')
      await writeFile(
        testFile,
        `import { test } from 'vitest'\nconst fixtureDir = import.meta.dirname\n${(await block('checkStairway(project)')).text}\n`,
      )
      const vitest = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs')
      const run = spawnSync(process.execPath, [vitest, 'run', testFile], {
        // the reader runs their tests from their project's folder: relative store paths are from there
        cwd: dir,
        encoding: 'utf8',
        env: { ...process.env, NO_COLOR: '1' },
      })
      expect(run.status, run.stdout + run.stderr).toBe(0)
      expect(run.stdout).toContain('1 passed')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

/** `body` with a query function on a connection to `url`, closed after. */
async function withPg<T>(url: string, body: (query: (text: string) => Promise<{ rows: unknown[] }>) => Promise<T>) {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await body((text) => client.query(text))
  } finally {
    await client.end()
  }
}

describeWithServer('FLUX_TEST_PG_URL', 'README.md: a fleet of tenant schemas', (url) => {
  const prefix = `flux_readme_${randomBytes(5).toString('hex')}`
  afterAll(() =>
    withPg(url, async (query) => {
      for (const tenant of ['acme', 'globex', 'initech'])
        await query(`drop schema if exists ${prefix}_${tenant} cascade`)
    }),
  )

  it('the config, the migration and the commands as written migrate each tenant, then the one added', async () => {
    const dir = await emptyProject()
    const config = (await block('tenants: fleet({')).text
    // the tenants' schemas get a prefix of this test's own
    const own = config.replaceAll('`t_$' + '{tenant}`', `\`${prefix}_\${tenant}\``)
    expect(own).not.toBe(config)
    await writeFile(join(dir, 'flux.config.ts'), own)
    await mkdir(join(dir, 'migrations'))
    const migration = await block('-- migrations/20261201090000_invoices.sql')
    await writeFile(join(dir, 'migrations', '20261201090000_invoices.sql'), `${migration.text}\n`)
    const lines = (await block('TENANTS=acme,globex npx flux up')).text
      .split('\n')
      .map((line) => line.replace(/\s+#.*$/, '').trim())
      .filter(Boolean)
    const commands = lines.map((line) => /^TENANTS=(\S+) npx flux (.+)$/.exec(line))
    expect(commands.map((command) => command?.[2])).toEqual(['up', 'up', 'status --fleet tenants --members'])
    const results = []
    for (const command of commands) {
      const result = await flux(command![2]!.split(/\s+/), dir, { DATABASE_URL: url, TENANTS: command![1]! })
      expect(result.code, `${command![0]}\n${result.stderr}`).toBe(0)
      results.push(result)
    }
    expect(results[0]!.stdout).toContain('fleet tenants: 2 members, 2 at their target (2 migrations applied)')
    expect(results[1]!.stdout).toContain('fleet tenants: 3 members, 3 at their target (1 migrations applied)')
    expect(results[2]!.stdout).toMatch(/ {2}acme {2}at head\n {2}globex {2}at head\n {2}initech {2}at head\n/)
    const tables = await withPg(url, (query) =>
      query(
        `select table_schema from information_schema.tables where table_name = 'invoices' and table_schema like '${prefix}%' order by 1`,
      ),
    )
    expect(tables.rows).toEqual(
      ['acme', 'globex', 'initech'].map((tenant) => ({ table_schema: `${prefix}_${tenant}` })),
    )
  })
})

describeWithServer('FLUX_TEST_PG_URL', 'README.md with PostgreSQL', (url) => {
  const schema = `flux_readme_${randomBytes(5).toString('hex')}`
  // the SQL runs in a schema of its own: search_path in the connection's options
  const databaseUrl = `${url}${url.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`
  afterAll(() =>
    withPg(url, async (query) => {
      await query(`drop schema if exists ${schema} cascade`)
      await query(`drop schema if exists ${schema}_flux cascade`)
    }),
  )

  it('a .sql migration with the header as written applies, and its down reverts it', async () => {
    const dir = await emptyProject()
    await writeFile(
      join(dir, 'flux.config.ts'),
      `import { defineConfig } from '@flux/core'
import { pgStore } from '@flux/pg'
export default defineConfig({
  stores: { catalog: pgStore({ url: process.env.DATABASE_URL, schema: '${schema}_flux' }) },
  migrations: './migrations',
})
`,
    )
    await mkdir(join(dir, 'migrations'))
    await writeFile(
      join(dir, 'migrations', '20261101090000_hotels.sql'),
      `-- flux:store catalog\n-- flux:up\ncreate schema ${schema};\ncreate table hotel (id int primary key, name text);\n-- flux:down\ndrop schema ${schema} cascade;\n`,
    )
    await writeFile(
      join(dir, 'migrations', '20261102090000_hotel-name.sql'),
      `${(await block('-- flux:transaction off')).text}\n`,
    )
    const env = { DATABASE_URL: databaseUrl }
    const plan = await flux(['plan', '--sql'], dir, env)
    expect(plan.code, plan.stderr).toBe(0)
    expect(plan.stdout).toContain('create index concurrently hotel_name on hotel (name);')
    // with no server and no credentials: the same SQL, as for a fresh database
    const offline = await flux(['plan', '--sql', '--offline'], dir, { DATABASE_URL: '' })
    expect(offline.code, offline.stderr).toBe(0)
    expect(offline.stdout).toBe(plan.stdout)
    const downOffline = await flux(['plan', '--down', '--offline'], dir)
    expect(downOffline.code).toBe(2)
    expect(downOffline.stderr).toContain('nothing to revert')
    const up = await flux(['up'], dir, env)
    expect(up.code, up.stderr).toBe(0)
    expect((await statusJson(dir, env)).map((row) => row.status)).toEqual(['applied', 'applied'])
    const down = await flux(['down', '-1'], dir, env)
    expect(down.code, down.stderr).toBe(0)
    expect((await statusJson(dir, env)).map((row) => row.status)).toEqual(['applied', 'pending'])
    // a migration without a down: its plan says so, where the SQL would be
    await writeFile(
      join(dir, 'migrations', '20261103090000_stars.sql'),
      '-- flux:store catalog\n-- flux:up\nalter table hotel add column stars int;\n',
    )
    expect((await flux(['up'], dir, env)).code).toBe(0)
    const irreversible = await flux(['plan', '--down', '--steps', '1', '--sql'], dir, env)
    expect(irreversible.code).toBe(3)
    expect(irreversible.stdout).toContain('-- no down(): migrations/20261103090000_stars.sql cannot be reverted\n')
    expect(irreversible.stdout).toContain('-- irreversible: ')
  })

  it('a component package and the config that binds its role, as written', async () => {
    const dir = await emptyProject()
    const manifest = (await block('"flux": { "migrations"')).text.replace(/^\/\/.*\n/, '')
    const images = join(dir, 'node_modules', '@travel', 'images')
    await mkdir(join(images, 'migrations'), { recursive: true })
    await writeFile(join(images, 'package.json'), manifest)
    await writeFile(
      join(images, 'migrations', '20260101000000_init.ts'),
      `import { defineMigration } from '@flux/core'
export default defineMigration({ store: 'blobs', async up({ store }) { await (store as { put(k: string, v: string): Promise<void> }).put('images/.keep', '') } })
`,
    )
    await writeFile(
      join(dir, 'package.json'),
      JSON.stringify({ name: 'travel-site', dependencies: { '@travel/images': '1.0.0' } }),
    )
    await writeFile(
      join(dir, 'flux.config.ts'),
      `import { defineConfig } from '@flux/core'
import { fsStore } from '@flux/fs'
import { pgStore } from '@flux/pg'

${(await block("components: { '@travel/images'")).text}
`,
    )
    await mkdir(join(dir, 'migrations'))
    const env = { DATABASE_URL: databaseUrl }
    const up = await flux(['up'], dir, env)
    expect(up.code, up.stderr).toBe(0)
    expect(up.stdout).toContain('@travel/images/20260101000000_init')
    expect(await readFile(join(dir, 'var/photos/images/.keep'), 'utf8')).toBe('')
  })
})
