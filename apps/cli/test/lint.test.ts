import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { emptyProject, flux, project } from './helpers.ts'

// lint opens no store: the url is never set, and no server is needed
const CONFIG = `import { defineConfig } from '@flux/core'
import { pgStore } from '@flux/pg'
export default defineConfig({ stores: { catalog: pgStore({ url: process.env.FLUX_LINT_UNSET_URL }) }, migrations: './migrations' })
`

async function pgProject(migrations: Record<string, string>): Promise<string> {
  const dir = await emptyProject()
  await writeFile(join(dir, 'flux.config.ts'), CONFIG)
  await mkdir(join(dir, 'migrations'))
  for (const [name, source] of Object.entries(migrations)) await writeFile(join(dir, 'migrations', name), source)
  return dir
}

const HOTEL = `-- flux:store catalog
-- flux:up
create table hotel (id bigint primary key, name text, city text);
create index hotel_name on hotel (name);
-- flux:down
drop table hotel;
`
const INDEX = `-- flux:store catalog
-- flux:up
alter table hotel add column stars smallint default 3;
create index hotel_city on hotel (city);
-- flux:down
drop index hotel_city;
alter table hotel drop column stars;
`
const DROP = `-- flux:store catalog
-- flux:up
alter table hotel drop column name;
`

describe('flux lint', () => {
  it('names file, line, rule and the safe alternative of each finding, and exits 1 on an error', async () => {
    const dir = await pgProject({
      '20260101000000_hotel.sql': HOTEL,
      '20260102000000_city.sql': INDEX,
      '20260103000000_drop.sql': DROP,
    })
    const result = await flux(['lint'], dir)
    expect(result.stderr).toBe('')
    expect(result.stdout).toBe(
      `migrations/20260102000000_city.sql:4  error index-not-concurrent
  \`create index hotel_city\` on existing table "hotel" without \`concurrently\` blocks writes to it while the index builds
  safe: use \`create index concurrently\` in a migration of its own with \`-- flux:transaction off\` (schemaMigration: \`createIndex(…, { concurrently: true })\` with \`transaction: false\`), which lets writes go on while it builds; to accept it on purpose: \`-- flux-lint-ignore index-not-concurrent <reason>\` on the line before the statement
migrations/20260103000000_drop.sql:3  error drop-without-down
  drops column "name" of table "hotel", and the migration has no down
  safe: give the migration a down that recreates what it drops, and copy the rows first if they may be needed again; to accept it on purpose: \`-- flux-lint-ignore drop-without-down <reason>\` on the line before the statement
2 errors, 0 warnings in 2 of 3 migrations (catalog)
`,
    )
    expect(result.code).toBe(1)

    const json = await flux(['lint', '--json'], dir)
    expect(json.code).toBe(1)
    const report = JSON.parse(json.stdout)
    expect(report).toMatchObject({ checked: 3, stores: ['catalog'], errors: 2, warnings: 0 })
    expect(report.findings[0]).toEqual({
      migration: 'app/20260102000000_city',
      file: 'migrations/20260102000000_city.sql',
      line: 4,
      direction: 'up',
      statement: 2,
      rule: 'index-not-concurrent',
      severity: 'error',
      message: expect.stringContaining('"hotel"'),
      hint: expect.stringContaining('create index concurrently'),
    })
  })

  it('accepts a finding with `-- flux-lint-ignore <rule> <reason>`; a warning alone exits 0; an unknown rule is an error', async () => {
    const accepted = INDEX.replace(
      'create index hotel_city',
      '-- flux-lint-ignore index-not-concurrent hotel has 40 rows\ncreate index hotel_city',
    )
    const dir = await pgProject({
      '20260101000000_hotel.sql': HOTEL,
      '20260102000000_city.sql': accepted,
      '20260103000000_drop.sql': DROP.replace('drop column name;', 'drop column name;\n-- flux:down\nselect 1;'),
    })
    const clean = await flux(['lint'], dir)
    expect(clean.stdout).toBe(`migrations/20260103000000_drop.sql:3  warning drop-data
  drops column "name" of table "hotel": its data is lost
  safe: drop it in a release after the application stops reading and writing it, and keep a copy if in doubt: a down cannot bring the rows back; to accept it on purpose: \`-- flux-lint-ignore drop-data <reason>\` on the line before the statement
0 errors, 1 warning in 1 of 3 migrations (catalog)
`)
    expect(clean.code).toBe(0)

    await writeFile(
      join(dir, 'migrations', '20260102000000_city.sql'),
      accepted.replace('index-not-concurrent hotel', 'index-concurrent hotel'),
    )
    const unknown = await flux(['lint', '--json'], dir)
    expect(unknown.code).toBe(1)
    expect(
      JSON.parse(unknown.stdout).findings.map((finding: { rule: string; line: number; message: string }) => [
        finding.rule,
        finding.line,
        finding.message,
      ]),
    ).toEqual([
      ['index-not-concurrent', 5, expect.stringContaining('hotel_city')],
      ['lint-ignore', 5, 'an ignore names the unknown rule "index-concurrent"'],
      ['drop-data', 3, expect.stringContaining('"name"')],
    ])
  })

  it('lints a schemaMigration file, naming its section and statement; lintIgnore() accepts a rule for it', async () => {
    const migration = (wrap: (text: string) => string) => `import { lintIgnore, schemaMigration } from '@flux/pg'
export default ${wrap("schemaMigration({ store: 'catalog' }, (schema) => [schema.createIndex('hotel_city', 'hotel', ['city'])])")}
`
    const dir = await pgProject({
      '20260101000000_hotel.sql': HOTEL,
      '20260102000000_city.ts': migration((text) => text),
    })
    const result = await flux(['lint'], dir)
    expect(result.stdout).toContain(
      'migrations/20260102000000_city.ts (up, statement 1)  error index-not-concurrent\n  `create index hotel_city` on existing table "hotel"',
    )
    expect(result.stdout).toContain("to accept it on purpose: `lintIgnore({ 'index-not-concurrent': '<reason>' }, …)`")
    expect(result.code).toBe(1)
    await writeFile(
      join(dir, 'migrations', '20260102000000_city.ts'),
      migration((text) => `lintIgnore({ 'index-not-concurrent': 'hotel has 40 rows' }, ${text})`),
    )
    const accepted = await flux(['lint'], dir)
    expect([accepted.stdout, accepted.code]).toEqual(['no findings in 2 migrations (catalog)\n', 0])
  })

  it('shows the findings of the planned steps in `flux plan --offline`', async () => {
    const dir = await pgProject({ '20260101000000_hotel.sql': HOTEL, '20260102000000_city.sql': INDEX })
    const plan = await flux(['plan', '--offline'], dir)
    expect(plan.stdout).toContain(
      'lint         migrations/20260102000000_city.sql:4 index-not-concurrent: `create index hotel_city` on existing table "hotel"',
    )
    expect(plan.code).toBe(0)
    const json = JSON.parse((await flux(['plan', '--offline', '--json'], dir)).stdout)
    expect(json.lint.map((finding: { rule: string }) => finding.rule)).toEqual(['index-not-concurrent'])
  })

  it('refuses an unknown store with exit 2; a project with no pg store has nothing to lint', async () => {
    const dir = await pgProject({ '20260101000000_hotel.sql': HOTEL })
    const result = await flux(['lint', '--store', 'photos'], dir)
    expect(result.stderr).toContain('no store "photos"')
    expect(result.stderr).toContain('name one of the configured stores: catalog')
    expect(result.code).toBe(2)
    expect((await flux(['lint', '--strict'], dir)).code).toBe(2)

    const files = await flux(['lint'], await project({}))
    expect([files.stdout, files.code]).toEqual(['no store can lint its migrations (pg stores can)\n', 0])
  })
})
