import { setTimeout as sleep } from 'node:timers/promises'
import { type Adapter, migrate } from '@flux/core'
import { afterEach, expect, it } from 'vitest'
import { type PgLockMode, pgStore } from '../src/index.ts'
import { testProject } from './pg-project.ts'
import { adminPool, describeWithServer, randomSchema } from './pg-test-helpers.ts'

const entry = (id: string) => ({
  id,
  checksum: 'sha256:0',
  status: 'applied' as const,
  appliedAt: new Date().toISOString(),
  durationMs: 1,
  runId: id,
  fluxVersion: '0.1.0',
})

describeWithServer('concurrent runners on an empty database', (url) => {
  const schemas: string[] = []
  const opened: Adapter[] = []
  /** A fresh schema name that does not exist yet: no schema, no ledger, no lock table. */
  const emptySchema = () => {
    const schema = randomSchema()
    schemas.push(schema)
    return schema
  }
  const open = async (schema: string, lock: PgLockMode) => {
    const adapter = pgStore({ url, schema, lock })
    await adapter.open()
    opened.push(adapter)
    return adapter
  }
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((adapter) => adapter.close()))
    for (const schema of schemas.splice(0)) await adminPool(url).query(`drop schema if exists "${schema}" cascade`)
  })

  it('8 first writers at once all create-or-find the ledger table and record', async () => {
    const schema = emptySchema()
    const adapters = await Promise.all(Array.from({ length: 8 }, () => open(schema, 'advisory')))
    await Promise.all(adapters.map((adapter, index) => adapter.ledger.record(entry(`app/${index}`))))
    expect((await adapters[0]!.ledger.read()).map((recorded) => recorded.id).sort()).toEqual(
      Array.from({ length: 8 }, (_, index) => `app/${index}`),
    )
  })

  for (const lock of ['advisory', 'table'] as const) {
    it(`lock ${lock}: 6 acquirers at once never hold the lease together, and all record`, async () => {
      const schema = emptySchema()
      const adapters = await Promise.all(Array.from({ length: 6 }, () => open(schema, lock)))
      let inside = 0
      let most = 0
      await Promise.all(
        adapters.map(async (adapter, index) => {
          const holder = { host: 'test', pid: 1000 + index, runId: `run-${index}`, since: new Date().toISOString() }
          const lease = await adapter.acquire({ store: 'catalog', ttlMs: 10_000, waitMs: 60_000, holder })
          inside += 1
          most = Math.max(most, inside)
          try {
            await adapter.ledger.record(entry(`app/${index}`))
            await sleep(10)
          } finally {
            inside -= 1
            await lease.release()
          }
        }),
      )
      expect(most).toBe(1)
      expect((await adapters[0]!.ledger.read()).length).toBe(6)
    })

    it(`lock ${lock}: 4 runs of \`up\` at once apply each migration exactly once, and all succeed`, async () => {
      for (let round = 0; round < 2; round++) {
        const schema = emptySchema()
        const migrations = ['0001_a', '0002_b', '0003_c'].map((name, index) => ({
          name,
          sql: `-- flux:store catalog\n-- flux:up\n${
            index === 0
              ? `create schema if not exists "${schema}_data";\ncreate table "${schema}_data".applied (name text);\n`
              : ''
          }insert into "${schema}_data".applied values ('${name}');\nselect pg_sleep(0.02);`,
        }))
        schemas.push(`${schema}_data`)
        const reports = await Promise.all(
          Array.from({ length: 4 }, () =>
            migrate(testProject({ catalog: pgStore({ url, schema, lock }) }, migrations), { direction: 'up' }),
          ),
        )
        expect(reports.map((report) => report.error?.message)).toEqual([undefined, undefined, undefined, undefined])
        const applied = reports.flatMap((report) => report.steps.filter((step) => step.status === 'applied'))
        expect(applied.map((step) => step.id).sort()).toEqual(['app/0001_a', 'app/0002_b', 'app/0003_c'])
        const { rows } = await adminPool(url).query(`select name from "${schema}_data".applied order by name`)
        expect(rows.map((row) => row.name)).toEqual(['0001_a', '0002_b', '0003_c'])
      }
    })
  }
})
