import { describe, expect, it } from 'vitest'
import type { Adapter, LedgerEntry } from './adapter.ts'
import { buildGraph } from './graph/graph.ts'
import { createLease } from './lease.ts'
import type { LoadedMigration } from './load-migrations.ts'
import type { MigrationContext, MigrationDefinition } from './migration.ts'
import type { Project } from './project.ts'
import { migrate } from './runner.ts'

/** A store in memory: its ledger, and what migrations wrote (`data`), committed as a whole in a transaction. */
function memoryStore(transactions: boolean) {
  const state = { ledger: new Map<string, LedgerEntry>(), data: new Set<string>() }
  const ledgerOf = (ledger: Map<string, LedgerEntry>) => ({
    read: async () => [...ledger.values()],
    record: async (entry: LedgerEntry) => void ledger.set(entry.id, entry),
    remove: async (id: string) => void ledger.delete(id),
  })
  const adapter: Adapter<Set<string>> = {
    specVersion: 'v1',
    kind: transactions ? 'memory-tx' : 'memory',
    capabilities: { transactions },
    open: async () => {},
    close: async () => {},
    describe: () => 'memory',
    client: () => state.data,
    ledger: ledgerOf(state.ledger),
    acquire: async (options) => createLease({ ttlMs: options.ttlMs, renew: async () => true, release: async () => {} }),
    inspectLease: async () => undefined,
    breakLease: async () => undefined,
    ...(transactions
      ? {
          async transaction<T>(fn: (client: Set<string>, ledger: Adapter['ledger']) => Promise<T>): Promise<T> {
            const data = new Set(state.data)
            const ledger = new Map(state.ledger)
            const result = await fn(data, ledgerOf(ledger))
            state.data = data
            state.ledger = ledger
            return result
          },
        }
      : {}),
  }
  return { adapter, state }
}

function project(store: Adapter, definitions: Record<string, MigrationDefinition>): Project {
  const loaded: LoadedMigration[] = Object.entries(definitions).map(([name, definition]) => ({
    id: `app/${name}`,
    component: 'app',
    name,
    file: `/project/migrations/${name}.ts`,
    displayFile: `migrations/${name}.ts`,
    checksum: `sha256:${name}`,
    definition,
  }))
  return {
    root: '/project',
    configFile: '/project/flux.config.ts',
    components: [{ name: 'app', dir: '/project/migrations' }],
    migrations: loaded,
    graph: buildGraph(loaded, ['main']),
    loaders: new Map(),
    retired: [],
    ignoredComponents: [],
    adapters: { main: store },
    stores: { main: { kind: store.kind, transactions: store.capabilities?.transactions === true } },
    lease: { ttlMs: 10_000, waitMs: 1_000 },
  }
}

const put = (key: string): MigrationDefinition => ({
  store: 'main',
  up: async ({ store }: MigrationContext) => void (store as Set<string>).add(key),
})

/** A migration that cancels the run while it runs (as Ctrl-C would), then waits on `ctx.signal` for a while. */
function cancelling(cancel: AbortController, key: string): MigrationDefinition {
  return {
    store: 'main',
    async up({ store, signal }: MigrationContext) {
      ;(store as Set<string>).add(`${key}:begun`)
      cancel.abort(new Error('cancelled by SIGINT'))
      for (let tick = 0; tick < 20; tick++) {
        signal.throwIfAborted()
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
      ;(store as Set<string>).add(key)
    },
  }
}

describe('migrate, cancelled', () => {
  it('rolls back the step in flight where it runs in a transaction and stops on ctx.signal', async () => {
    const { adapter, state } = memoryStore(true)
    const cancel = new AbortController()
    const report = await migrate(
      project(adapter, { '001_a': put('a'), '002_b': cancelling(cancel, 'b'), '003_c': put('c') }),
      { direction: 'up', signal: cancel.signal },
    )
    expect(report.steps.map((step) => [step.id, step.status])).toEqual([
      ['app/001_a', 'applied'],
      ['app/002_b', 'cancelled'],
      ['app/003_c', 'skipped'],
    ])
    expect(report.steps[1]!.error).toBeUndefined()
    expect(report.error?.code).toBe('INTERRUPTED')
    expect([...state.data]).toEqual(['a'])
    expect([...state.ledger.keys()]).toEqual(['app/001_a'])
  })

  it('lets the step in flight finish where the store has no transactions: its ctx.signal is not aborted', async () => {
    const { adapter, state } = memoryStore(false)
    const cancel = new AbortController()
    const report = await migrate(
      project(adapter, { '001_a': put('a'), '002_b': cancelling(cancel, 'b'), '003_c': put('c') }),
      { direction: 'up', signal: cancel.signal },
    )
    expect(report.steps.map((step) => [step.id, step.status])).toEqual([
      ['app/001_a', 'applied'],
      ['app/002_b', 'applied'],
      ['app/003_c', 'skipped'],
    ])
    expect([...state.data]).toEqual(['a', 'b:begun', 'b'])
    expect([...state.ledger.values()].map((entry) => [entry.id, entry.status])).toEqual([
      ['app/001_a', 'applied'],
      ['app/002_b', 'applied'],
    ])
  })

  it('reports no error when the cancel came during the last step and it finished', async () => {
    const { adapter } = memoryStore(false)
    const cancel = new AbortController()
    const report = await migrate(project(adapter, { '001_a': put('a'), '002_b': cancelling(cancel, 'b') }), {
      direction: 'up',
      signal: cancel.signal,
    })
    expect(report.error).toBeUndefined()
    expect(report.steps.map((step) => step.status)).toEqual(['applied', 'applied'])
  })

  it('reports a step that fails for its own reason during a cancel as failed', async () => {
    const { adapter } = memoryStore(true)
    const cancel = new AbortController()
    const report = await migrate(
      project(adapter, {
        '001_a': {
          store: 'main',
          async up() {
            cancel.abort(new Error('cancelled by SIGINT'))
            throw new Error('relation "photos" does not exist')
          },
        },
      }),
      { direction: 'up', signal: cancel.signal },
    )
    expect(report.steps.map((step) => step.status)).toEqual(['failed'])
    expect(report.error?.message).toContain('relation "photos" does not exist')
  })
})
