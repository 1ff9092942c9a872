import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const dist = join(dirname(fileURLToPath(import.meta.url)), '../dist/index.js')

// What a process pays for loading @flux/pg: kysely (some 400 modules, about 150 ms) only when
// schema operations or bulk rows render SQL, never for `.sql` migrations or the ledger.
describe('loading @flux/pg', () => {
  it('loads kysely only once a schema migration is defined, and then renders its SQL', () => {
    const script = `
import module from 'node:module'
const loaded = []
module.registerHooks({ resolve(specifier, context, next) { const resolved = next(specifier, context); loaded.push(resolved.url); return resolved } })
const kyselyLoaded = () => loaded.some((url) => url.includes('/kysely/'))
const pg = await import(${JSON.stringify(dist)})
const before = kyselyLoaded()
const migration = pg.schemaMigration({ store: 'catalog' }, (schema) => [
  schema.createTable('item', { id: { type: 'int', primaryKey: true }, name: { type: 'text' } }),
])
console.log(JSON.stringify({ before, after: kyselyLoaded(), sql: migration.sql.up }))
`
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })
    expect(result.stderr).toBe('')
    const seen = JSON.parse(result.stdout) as { before: boolean; after: boolean; sql: string[] }
    expect(seen.before).toBe(false)
    expect(seen.after).toBe(true)
    expect(seen.sql).toEqual(['create table "item" ("id" int primary key, "name" text)'])
  })
})
