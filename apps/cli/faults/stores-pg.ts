// PostgreSQL and PGlite: each application of a migration is a row of `fault_effects`, inserted
// in the migration's transaction.
import { join } from 'node:path'
import type { Adapter } from '@flux/core'
import type { PgClient } from '@flux/pg'
import { pgStore } from '@flux/pg'
import { env, type FaultStore, hostOf, literal, type Namespace, opened, through, unique } from './store-kit.ts'

/** A table of effects in `schema`, written in the migration's transaction. */
function pgNamespace(config: string, schema: string, probe: () => Adapter<PgClient>, keepOpen: boolean): Namespace {
  const table = `"${schema}".fault_effects`
  let kept: Promise<{ client: PgClient; close: () => Promise<void> }> | undefined
  const use = async <T>(body: (client: PgClient) => Promise<T>): Promise<T> => {
    if (keepOpen) {
      kept ??= opened(probe())
      return body((await kept).client)
    }
    // PGlite lets one process at a time open its directory: the test opens it only between runs
    const once = await opened(probe())
    try {
      return await body(once.client)
    } finally {
      await once.close()
    }
  }
  return {
    config,
    effect: (name) =>
      `await store.query('insert into ${table} (name, pid) values ($1, $2)', [${literal(name)}, process.pid])`,
    async effects() {
      const { rows } = await use((client) =>
        client.query<{ name: string; pid: number }>(`select name, pid from ${table} order by name`),
      )
      return rows
    },
    async cleanup() {
      if (keepOpen) await use((client) => client.query(`drop schema if exists "${schema}" cascade`))
      await (await kept)?.close()
    },
  }
}

async function createEffectsTable(probe: Adapter<PgClient>, schema: string): Promise<void> {
  const { client, close } = await opened(probe)
  try {
    await client.query(
      `create schema if not exists "${schema}"; create table "${schema}".fault_effects (name text not null, pid int not null)`,
    )
  } finally {
    await close()
  }
}

export const pglite: FaultStore = {
  name: 'pglite',
  imports: "import { pgStore } from '@flux/pg'",
  transactional: true,
  contract: 'exclusive open',
  upstream: () => ({ unavailable: 'embedded, no connection' }),
  async create(dir) {
    const dataDir = join(dir, 'var', 'pg')
    const probe = () => pgStore({ pglite: dataDir })
    await createEffectsTable(probe(), 'public')
    return pgNamespace(`pgStore({ pglite: ${literal(dataDir)} })`, 'public', probe, false)
  },
}

export const pg: FaultStore = {
  name: 'pg',
  imports: "import { pgStore } from '@flux/pg'",
  variable: 'FLUX_TEST_PG_URL',
  transactional: true,
  contract: 'migration fenced',
  upstream: () => hostOf(env.FLUX_TEST_PG_URL),
  async create(_dir, port) {
    const url = env.FLUX_TEST_PG_URL!
    const schema = unique('faults')
    const probe = () => pgStore({ url, schema })
    await createEffectsTable(probe(), schema)
    return pgNamespace(
      `pgStore({ url: ${literal(through(url, port))}, schema: ${literal(schema)} })`,
      schema,
      probe,
      true,
    )
  },
}
