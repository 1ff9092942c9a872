import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describeWithServer as describeServer } from '@flux/core/testing'
import { MongoClient } from 'mongodb'
import { afterAll, expect, it } from 'vitest'
import { filesOf, flux, statuses, tempDir } from './import-helpers.ts'

// migrate-mongo itself (its CLI, from npm) applies the first half of a history into its
// changelog collection (named otherwise in its config here); then `flux import migrate-mongo`
// wraps every file as a flux migration, records the applied ones, and `flux up` runs the rest.
const MIGRATE_MONGO = join(import.meta.dirname, '../node_modules/migrate-mongo/bin/migrate-mongo.js')

const MIGRATIONS: Record<string, string> = {
  '20260101000000-create-hotels.js': `module.exports = {
  async up(db) {
    await db.collection('hotels').insertMany([{ name: 'Ritz', stars: 5 }, { name: 'Inn', stars: 2 }])
  },
  async down(db) {
    await db.collection('hotels').drop()
  },
}
`,
  '20260102000000-index-hotel-name.js': `module.exports = {
  async up(db) {
    await db.collection('hotels').createIndex({ name: 1 }, { name: 'hotel_name' })
  },
  async down(db) {
    await db.collection('hotels').dropIndex('hotel_name')
  },
}
`,
  '20260103000000-add-country.js': `module.exports = {
  async up(db) {
    await db.collection('hotels').updateMany({}, { $set: { country: 'FR' } })
  },
  async down(db) {
    await db.collection('hotels').updateMany({}, { $unset: { country: '' } })
  },
}
`,
  '20260104000000-create-rooms.js': `// the client, as migrate-mongo passes it
module.exports = {
  async up(db, client) {
    await client.db(db.databaseName).collection('rooms').insertOne({ hotel: 'Ritz', number: '101' })
  },
  async down(db, client) {
    await client.db(db.databaseName).collection('rooms').drop()
  },
}`,
}
const FILES = Object.keys(MIGRATIONS)

describeServer(
  'FLUX_TEST_MONGO_URL',
  'flux import migrate-mongo',
  (server) => {
    const mongo = new MongoClient(server)
    const databases: string[] = []
    afterAll(async () => {
      for (const name of databases) await mongo.db(name).dropDatabase()
      await mongo.close()
    })
    const freshUrl = () => {
      const name = `flux_import_mm_${randomBytes(5).toString('hex')}`
      databases.push(name)
      const url = new URL(server)
      url.pathname = `/${name}`
      return { name, url: url.toString() }
    }

    /** A migrate-mongo project (CommonJS, its config naming the changelog) with the given files; `migrate-mongo up` run in it. */
    async function migrateMongoUp(root: string, url: string, files: readonly string[]): Promise<void> {
      await mkdir(join(root, 'migrations'), { recursive: true })
      await writeFile(join(root, 'package.json'), '{ "type": "commonjs" }\n')
      await writeFile(
        join(root, 'migrate-mongo-config.js'),
        `module.exports = {
  mongodb: { url: process.env.MM_URL, options: {} },
  migrationsDir: 'migrations',
  changelogCollectionName: 'hotel_changelog',
  lockCollectionName: 'hotel_changelog_lock',
  lockTtl: 0,
  migrationFileExtension: '.js',
  useFileHash: false,
  moduleSystem: 'commonjs',
}
`,
      )
      for (const file of files) await writeFile(join(root, 'migrations', file), MIGRATIONS[file]!)
      const run = spawnSync(process.execPath, [MIGRATE_MONGO, 'up'], {
        cwd: root,
        env: { ...process.env, MM_URL: url },
        encoding: 'utf8',
      })
      expect(run.status, run.stdout + run.stderr).toBe(0)
    }

    /** What the migrations made: documents without their ids, and the hotels' indexes. */
    async function contents(name: string) {
      const db = mongo.db(name)
      const docs = async (collection: string) =>
        (
          await db
            .collection(collection)
            .find({}, { projection: { _id: 0 } })
            .toArray()
        ).sort((a, b) => String(a.name ?? a.number).localeCompare(String(b.name ?? b.number)))
      const collections = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name)
      return {
        hotels: await docs('hotels'),
        rooms: collections.includes('rooms') ? await docs('rooms') : 'none',
        indexes: (await db.collection('hotels').indexes()).map((index) => index.name).sort(),
      }
    }

    it('wraps a history migrate-mongo half applied: the code byte for byte, nothing run twice, downs work', async () => {
      const { name, url } = freshUrl()
      const root = await tempDir('migrate-mongo')
      await migrateMongoUp(root, url, FILES.slice(0, 2))
      for (const file of FILES.slice(2)) await writeFile(join(root, 'migrations', file), MIGRATIONS[file]!)
      const project = await tempDir('project')
      await writeFile(
        join(project, 'flux.config.ts'),
        `import { defineConfig } from '@flux/core'
import { mongoStore } from '@flux/mongo'
export default defineConfig({ stores: { docs: mongoStore({ url: process.env.CATALOG_URL }) }, migrations: './migrations' })
`,
      )
      const folder = join(project, 'migrations')
      const from = join(root, 'migrations')

      const imported = flux(project, url, 'import', 'migrate-mongo', '--store', 'docs', '--from', from)
      expect(imported.code, imported.stderr).toBe(0)
      expect(imported.stdout).toContain('wrote 4 of 4 migrations')
      expect(imported.stdout).toContain("migrate-mongo's hotel_changelog has 2 applied; recorded 2 in flux's ledger")
      const names = [
        '20260101000000_create-hotels',
        '20260102000000_index-hotel-name',
        '20260103000000_add-country',
        '20260104000000_create-rooms',
      ]
      expect(await filesOf(folder)).toEqual(
        [...names.flatMap((file) => [`${file}.mjs`, `${file}.migrate-mongo.cjs`]), 'flux.sum'].sort(),
      )
      for (const [index, file] of FILES.entries()) {
        expect(await readFile(join(folder, `${names[index]}.migrate-mongo.cjs`), 'utf8')).toBe(MIGRATIONS[file])
      }
      expect(
        await readFile(join(folder, `${names[1]}.mjs`), 'utf8'),
      ).toBe(`// imported by \`flux import migrate-mongo\` from 20260102000000-index-hotel-name.js, kept byte for byte in ./20260102000000_index-hotel-name.migrate-mongo.cjs
import { defineMigration } from '@flux/core'
import original from './20260102000000_index-hotel-name.migrate-mongo.cjs'

export default defineMigration({
  store: "docs",
  parents: ["20260101000000_create-hotels"],
  // migrate-mongo runs a migration outside any transaction
  transaction: false,
  async up(ctx) {
    await original.up(ctx.store.db, ctx.store.client)
  },
  async down(ctx) {
    await original.down(ctx.store.db, ctx.store.client)
  },
})
`)
      expect(statuses(project, url)).toEqual({
        'app/20260101000000_create-hotels': 'applied',
        'app/20260102000000_index-hotel-name': 'applied',
        'app/20260103000000_add-country': 'pending',
        'app/20260104000000_create-rooms': 'pending',
      })
      const again = flux(project, url, 'import', 'migrate-mongo', '--store', 'docs', '--from', from)
      expect(again.code, again.stderr).toBe(0)
      expect(again.stdout).toContain('nothing to import')

      const up = flux(project, url, 'up')
      expect(up.code, up.stderr + up.stdout).toBe(0)
      // nothing ran twice: two hotels, not four; the index made once
      const { name: allName, url: allUrl } = freshUrl()
      await migrateMongoUp(await tempDir('migrate-mongo-all'), allUrl, FILES)
      const expected = await contents(allName)
      expect(expected.hotels).toEqual([
        { name: 'Inn', stars: 2, country: 'FR' },
        { name: 'Ritz', stars: 5, country: 'FR' },
      ])
      expect(expected.indexes).toEqual(['_id_', 'hotel_name'])
      expect(await contents(name)).toEqual(expected)
      // migrate-mongo's changelog is left as it was
      const changelog = await mongo.db(name).collection('hotel_changelog').find().toArray()
      expect(changelog.map((entry) => entry.fileName)).toEqual(FILES.slice(0, 2))

      const down = flux(project, url, 'down', '--steps', '3', '--yes')
      expect(down.code, down.stderr + down.stdout).toBe(0)
      expect(await contents(name)).toEqual({
        hotels: [
          { name: 'Inn', stars: 2 },
          { name: 'Ritz', stars: 5 },
        ],
        rooms: 'none',
        indexes: ['_id_'],
      })
      const reapplied = flux(project, url, 'up')
      expect(reapplied.code, reapplied.stderr).toBe(0)
      expect(await contents(name)).toEqual(expected)
    })

    it('stops on a changelog entry without a file, writing nothing; --dry-run writes nothing', async () => {
      const { name, url } = freshUrl()
      const root = await tempDir('migrate-mongo')
      await migrateMongoUp(root, url, FILES.slice(0, 1))
      const project = await tempDir('project')
      await writeFile(
        join(project, 'flux.config.ts'),
        `import { defineConfig } from '@flux/core'
import { mongoStore } from '@flux/mongo'
export default defineConfig({ stores: { docs: mongoStore({ url: process.env.CATALOG_URL }) }, migrations: './migrations' })
`,
      )
      const from = join(root, 'migrations')
      const dryRun = flux(project, url, 'import', 'migrate-mongo', '--store', 'docs', '--from', from, '--dry-run')
      expect(dryRun.code, dryRun.stderr).toBe(0)
      expect(dryRun.stdout).toContain('write    migrations/20260101000000_create-hotels.mjs')
      expect(dryRun.stdout).toContain('record app/20260101000000_create-hotels as applied (not run)')
      expect(await filesOf(join(project, 'migrations'))).toEqual([])

      await mongo
        .db(name)
        .collection('hotel_changelog')
        .insertOne({ fileName: '20251231000000-gone.js', appliedAt: new Date() })
      const missing = flux(project, url, 'import', 'migrate-mongo', '--store', 'docs', '--from', from)
      expect(missing.code).toBe(3)
      expect(missing.stderr).toContain(
        "migrate-mongo's hotel_changelog records 20251231000000-gone.js as applied, but the folder has no file for it: nothing was imported",
      )
      expect(await filesOf(join(project, 'migrations'))).toEqual([])
      const collections = await mongo.db(name).listCollections({}, { nameOnly: true }).toArray()
      expect(collections.map((collection) => collection.name)).not.toContain('flux_ledger')
    })
  },
  'start the test servers with `scripts/services start`',
)
