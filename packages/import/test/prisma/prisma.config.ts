import { PrismaPg } from '@prisma/adapter-pg'
import type pg from 'pg'
import { defineConfig } from 'prisma/config'

// The config `prisma migrate deploy` runs with in test/prisma.test.ts. `engine: 'js'` with a
// driver adapter makes the Prisma 6 CLI run its schema engine compiled to Wasm (shipped in the
// npm package) instead of the native one it downloads from its own host, which CI cannot reach;
// Prisma 7 has no such option. The adapter is @prisma/adapter-pg 7: the 6.x one cannot read the
// `name` columns of the catalog queries the engine makes (prisma/orm#27403).

/**
 * @prisma/adapter-pg, except that a migration script goes to the server whole, as one
 * multi-statement query, as Prisma's native schema engine sends it: the adapter itself splits
 * the script on every `;`, which cuts a `$$`-quoted function body (Rallly's third migration has one).
 */
class PrismaPgWholeScript extends PrismaPg {
  override async connect() {
    const adapter = await super.connect()
    const pool = adapter.underlyingDriver() as pg.Pool
    const failed = adapter as unknown as { onError(error: unknown): never }
    adapter.executeScript = async (script: string) => {
      try {
        await pool.query(script)
      } catch (error) {
        failed.onError(error)
      }
    }
    return adapter
  }
}

const project = process.env.FLUX_PRISMA_PROJECT
if (!project) throw new Error('FLUX_PRISMA_PROJECT is not set: the folder holding the migrations to deploy')

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  // the CLI leaves the pool open when it is done: idle connections must not hold the process
  adapter: async () => new PrismaPgWholeScript({ connectionString: process.env.DATABASE_URL, allowExitOnIdle: true }),
  schema: `${import.meta.dirname}/schema.prisma`,
  migrations: { path: `${project}/migrations` },
})
