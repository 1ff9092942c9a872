import { readdir, readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { FluxFile, ForeignHistory, ForeignMigration, ImportFormat } from '../import-format.ts'
import { missingError } from '../sql-text.ts'

/** What a mongo store's `client()` offers, as far as reading the changelog needs it. */
interface MongoDb {
  listCollections(filter: { name: string }, options: { nameOnly: true }): { toArray(): Promise<unknown[]> }
  collection(name: string): { find(filter: object): { toArray(): Promise<{ fileName: string }[]> } }
}

const CONFIG = 'migrate-mongo-config.js'
const DEFAULT_CHANGELOG = 'changelog'

/**
 * migrate-mongo: `<timestamp>-<name>.js` files exporting `up(db, client)` and `down(db, client)`,
 * in file name order (its `getFileNames()`); its ledger is the `changelog` collection
 * (`changelogCollectionName` of `migrate-mongo-config.js`, read beside the folder or in its
 * parent), one `{ fileName, appliedAt }` document per applied file. Each file is kept byte for
 * byte as `<name>.migrate-mongo.cjs` beside a flux migration `<name>.mjs` that calls its
 * functions with the store's `db` and `client`, outside a transaction, as migrate-mongo does.
 */
export const migrateMongo: ImportFormat = {
  tool: 'migrate-mongo',
  summary:
    '<timestamp>-<name>.js files (up(db, client), down) wrapped as flux .mjs migrations; its changelog collection',
  storeKind: 'mongo',
  defaultFrom: 'migrations',

  async readHistory(dir) {
    const config = await configText(dir)
    const extension = /\bmigrationFileExtension\s*:\s*['"]([^'"]+)['"]/.exec(config ?? '')?.[1] ?? '.js'
    const changelog = /\bchangelogCollectionName\s*:\s*['"]([^'"]+)['"]/.exec(config ?? '')?.[1] ?? DEFAULT_CHANGELOG
    const skipped: { file: string; reason: string }[] = []
    const migrations: ForeignMigration[] = []
    for (const file of (await readdir(dir)).sort()) {
      if (!file.endsWith(extension) || file === `sample-migration${extension}`) continue
      const text = await readFile(join(dir, file), 'utf8')
      if (!/\bmodule\.exports\b|\bexports\.(up|down)\b/.test(text)) {
        skipped.push({ file, reason: 'not a CommonJS module (module.exports = { up, down }): flux wraps only those' })
        continue
      }
      migrations.push({
        key: file,
        name: nameOf(file.slice(0, -extension.length)),
        sources: [file],
        up: text,
        transaction: false,
      })
    }
    return { migrations, skipped, ledger: { changelog } } satisfies ForeignHistory
  },

  async readApplied(client, history) {
    const db = (client as { db: MongoDb }).db
    const changelog = history.ledger?.changelog ?? DEFAULT_CHANGELOG
    const found = await db.listCollections({ name: changelog }, { nameOnly: true }).toArray()
    if (found.length === 0) return undefined
    const documents = await db.collection(changelog).find({}).toArray()
    const known = new Set(history.migrations.map((migration) => migration.key))
    const missing = documents.find((document) => !known.has(document.fileName))
    if (missing) throw missingError('migrate-mongo', changelog, missing.fileName, 'the folder')
    return { table: changelog, applied: documents.map((document) => document.fileName) }
  },

  fileOf(migration, { store, parent }): FluxFile {
    const original = `${migration.name}.migrate-mongo.cjs`
    const hasDown = /\bdown\b/.test(migration.up)
    const text = `// imported by \`flux import migrate-mongo\` from ${migration.sources[0]}, kept byte for byte in ./${original}
import { defineMigration } from '@flux/core'
import original from './${original}'

export default defineMigration({
  store: ${JSON.stringify(store)},
  parents: ${JSON.stringify(parent === undefined ? [] : [parent])},
  // migrate-mongo runs a migration outside any transaction
  transaction: false,
  async up(ctx) {
    await original.up(ctx.store.db, ctx.store.client)
  },
${
  hasDown
    ? `  async down(ctx) {
    await original.down(ctx.store.db, ctx.store.client)
  },
`
    : ''
}})
`
    return { extension: '.mjs', text, companions: [{ fileName: original, text: migration.up }] }
  },
}

/** `20260101120000-add-users` → `20260101120000_add-users`: flux's `<timestamp>_<slug>`. */
function nameOf(base: string): string {
  const slug = base.replace(/[^A-Za-z0-9_.-]+/g, '-')
  return /^\d+-/.test(slug) ? slug.replace('-', '_') : slug
}

/** `migrate-mongo-config.js` beside the folder (in its parent, where `migrate-mongo init` puts it) or in it. */
async function configText(dir: string): Promise<string | undefined> {
  for (const candidate of [join(dirname(dir), CONFIG), join(dir, CONFIG)]) {
    const text = await readFile(candidate, 'utf8').catch(() => undefined)
    if (text !== undefined) return text
  }
  return undefined
}
