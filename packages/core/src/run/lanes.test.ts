import { describe, expect, it } from 'vitest'
import type { Adapter, LedgerChange, LedgerEntry } from '../adapter.ts'
import { FluxError } from '../errors.ts'
import { buildGraph, type MigrationNode } from '../graph/graph.ts'
import { createLease } from '../lease.ts'
import type { LoadedMigration } from '../load-migrations.ts'
import type { MigrationDefinition } from '../migration.ts'
import type { Project } from '../project.ts'
import { migrate } from '../runner.ts'
import { planLanes, runUnits, stepDependencies } from './lanes.ts'

/**
 * A store in memory without transactions: its ledger by id. With `joins`, its ledger can
 * {@link Ledger.write} several changes at once, and `writes` lists every write as
 * `status id` lines (`- id` for a removal), one array per write.
 */
function memoryStore(
  name: string,
  joins = false,
): { adapter: Adapter; ledger: Map<string, LedgerEntry>; writes: string[][] } {
  const ledger = new Map<string, LedgerEntry>()
  const writes: string[][] = []
  const change = (change: LedgerChange) => {
    if ('record' in change) ledger.set(change.record.id, change.record)
    else ledger.delete(change.remove)
    return 'record' in change ? `${change.record.status} ${change.record.id}` : `- ${change.remove}`
  }
  const adapter: Adapter = {
    specVersion: 'v1',
    kind: 'memory',
    capabilities: { transactions: false },
    open: async () => {},
    close: async () => {},
    describe: () => `memory ${name}`,
    client: () => name,
    ledger: {
      read: async () => [...ledger.values()],
      record: async (entry) => void writes.push([change({ record: entry })]),
      remove: async (id) => void writes.push([change({ remove: id })]),
      ...(joins ? { write: async (changes: readonly LedgerChange[]) => void writes.push(changes.map(change)) } : {}),
    },
    acquire: async (options) => createLease({ ttlMs: options.ttlMs, renew: async () => true, release: async () => {} }),
    inspectLease: async () => undefined,
    breakLease: async () => undefined,
  }
  return { adapter, ledger, writes }
}

/** A project over stores `a`, `b`, `c` whose migrations (in this order) are given by name. */
function project(definitions: Record<string, MigrationDefinition>, options: { joins?: boolean } = {}) {
  const stores = Object.fromEntries(['a', 'b', 'c'].map((name) => [name, memoryStore(name, options.joins)]))
  const loaded: LoadedMigration[] = Object.entries(definitions).map(([name, definition]) => ({
    id: `app/${name}`,
    component: 'app',
    name,
    file: `/project/migrations/${name}.ts`,
    displayFile: `migrations/${name}.ts`,
    checksum: `sha256:${name}`,
    definition,
  }))
  const value: Project = {
    root: '/project',
    configFile: '/project/flux.config.ts',
    components: [{ name: 'app', dir: '/project/migrations' }],
    migrations: loaded,
    graph: buildGraph(loaded, Object.keys(stores)),
    loaders: new Map(),
    retired: [],
    ignoredComponents: [],
    adapters: Object.fromEntries(Object.entries(stores).map(([name, store]) => [name, store.adapter])),
    stores: Object.fromEntries(Object.keys(stores).map((name) => [name, { kind: 'memory', transactions: false }])),
    lease: { ttlMs: 10_000, waitMs: 1_000 },
  }
  return { project: value, ledgers: stores }
}

/**
 * What the migrations themselves write, in the order it happens: `start x`, `end x`. A migration
 * may wait (up to a second) for another to have started: it overlaps it only if both run at once.
 */
function journal() {
  const lines: string[] = []
  const started = new Map<string, () => void>()
  const startOf = new Map<string, Promise<void>>()
  const seen = (name: string) => {
    if (!startOf.has(name)) startOf.set(name, new Promise((resolve) => started.set(name, resolve)))
    return startOf.get(name)!
  }
  const step = (
    name: string,
    options: {
      store: string
      parents?: string[]
      after?: string[]
      uses?: string[]
      awaits?: string
      fails?: boolean
      ms?: number
      down?: boolean
    },
  ): MigrationDefinition => ({
    store: options.store,
    ...(options.parents ? { parents: options.parents } : {}),
    ...(options.after ? { after: options.after } : {}),
    ...(options.uses ? { uses: options.uses } : {}),
    async up() {
      lines.push(`start ${name}`)
      void seen(name)
      started.get(name)!()
      if (options.awaits) await Promise.race([seen(options.awaits), new Promise((r) => setTimeout(r, 1000))])
      await new Promise((resolve) => setTimeout(resolve, options.ms ?? 5))
      if (options.fails) {
        lines.push(`fail ${name}`)
        throw new Error(`${name} went wrong`)
      }
      lines.push(`end ${name}`)
    },
    ...(options.down ? { down: async () => void lines.push(`revert ${name}`) } : {}),
  })
  return { lines, step }
}

describe('migrate in lanes', () => {
  it('runs the migrations of two stores that nothing orders at the same time', async () => {
    const { lines, step } = journal()
    const { project: value, ledgers } = project({
      '001_a1': step('a1', { store: 'a', parents: [], awaits: 'b1' }),
      '002_b1': step('b1', { store: 'b', parents: [], awaits: 'a1' }),
      '003_a2': step('a2', { store: 'a', parents: ['001_a1'] }),
      '004_b2': step('b2', { store: 'b', parents: ['002_b1'] }),
    })
    const report = await migrate(value, { direction: 'up' })
    expect(report.error).toBeUndefined()
    // each began before the other ended: they overlapped
    expect(lines.indexOf('start b1')).toBeLessThan(lines.indexOf('end a1'))
    expect(lines.indexOf('start a1')).toBeLessThan(lines.indexOf('end b1'))
    // one store's steps stay in order
    expect(lines.indexOf('end a1')).toBeLessThan(lines.indexOf('start a2'))
    expect(lines.indexOf('end b1')).toBeLessThan(lines.indexOf('start b2'))
    expect(report.steps.map((result) => [result.id, result.status])).toEqual([
      ['app/001_a1', 'applied'],
      ['app/002_b1', 'applied'],
      ['app/003_a2', 'applied'],
      ['app/004_b2', 'applied'],
    ])
    expect([...ledgers.a!.ledger.keys()]).toEqual(['app/001_a1', 'app/003_a2'])
    expect([...ledgers.b!.ledger.keys()]).toEqual(['app/002_b1', 'app/004_b2'])
    expect(report.lanes.map((lane) => [lane.stores, lane.state, lane.done])).toEqual([
      [['a'], 'done', ['app/001_a1', 'app/003_a2']],
      [['b'], 'done', ['app/002_b1', 'app/004_b2']],
    ])
  })

  it('with concurrency 1, runs the plan in its order, one step at a time', async () => {
    const { lines, step } = journal()
    const { project: value } = project({
      '001_a1': step('a1', { store: 'a', parents: [], awaits: 'b1' }),
      '002_b1': step('b1', { store: 'b', parents: [] }),
      '003_a2': step('a2', { store: 'a', parents: ['001_a1'] }),
    })
    const report = await migrate(value, { direction: 'up', concurrency: 1 })
    expect(report.error).toBeUndefined()
    expect(lines).toEqual(['start a1', 'end a1', 'start b1', 'end b1', 'start a2', 'end a2'])
  })

  it('starts a migration that uses two stores once both lanes are done with what comes before it', async () => {
    const { lines, step } = journal()
    const { project: value } = project({
      '001_a1': step('a1', { store: 'a', parents: [] }),
      '002_b1': step('b1', { store: 'b', parents: [], awaits: 'never' }),
      '003_ab': step('ab', { store: 'a', uses: ['b'], parents: ['001_a1'] }),
      '004_c1': step('c1', { store: 'c', parents: [] }),
    })
    const report = await migrate(value, { direction: 'up' })
    expect(report.error).toBeUndefined()
    expect(lines.indexOf('start ab')).toBeGreaterThan(lines.indexOf('end b1'))
    expect(lines.indexOf('start ab')).toBeGreaterThan(lines.indexOf('end a1'))
    // c is a lane of its own: it does not wait for b1's second
    expect(lines.indexOf('end c1')).toBeLessThan(lines.indexOf('end b1'))
    expect(report.plan.lanes.map((lane) => [lane.stores, lane.steps])).toEqual([
      [
        ['a', 'b'],
        ['app/001_a1', 'app/002_b1', 'app/003_ab'],
      ],
      [['c'], ['app/004_c1']],
    ])
  })

  it('orders steps of two stores that an edge orders', async () => {
    const { lines, step } = journal()
    const { project: value } = project({
      '001_a1': step('a1', { store: 'a', parents: [] }),
      '002_b1': step('b1', { store: 'b', parents: [], after: ['app/001_a1'], awaits: 'a1' }),
    })
    const report = await migrate(value, { direction: 'up' })
    expect(report.error).toBeUndefined()
    expect(lines).toEqual(['start a1', 'end a1', 'start b1', 'end b1'])
    expect(report.plan.lanes.map((lane) => [lane.stores, lane.after])).toEqual([
      [['a'], []],
      [['b'], ['app/001_a1']],
    ])
  })

  it('a failing lane stops new work in every lane; the steps running elsewhere finish and are recorded', async () => {
    const { lines, step } = journal()
    const { project: value, ledgers } = project({
      '001_a1': step('a1', { store: 'a', parents: [], awaits: 'b1', fails: true }),
      '002_b1': step('b1', { store: 'b', parents: [], awaits: 'a1', ms: 100 }),
      '003_b2': step('b2', { store: 'b', parents: ['002_b1'] }),
      '004_a2': step('a2', { store: 'a', parents: ['001_a1'] }),
    })
    const report = await migrate(value, { direction: 'up' })
    expect(report.error?.code).toBe('MIGRATION_FAILED')
    expect(report.error?.message).toContain('a1 went wrong')
    expect(lines).not.toContain('start b2')
    expect(lines).toContain('end b1')
    expect([...ledgers.b!.ledger.values()].map((entry) => [entry.id, entry.status])).toEqual([
      ['app/002_b1', 'applied'],
    ])
    expect([...ledgers.a!.ledger.keys()]).toEqual([])
    expect(report.steps.map((result) => [result.id, result.status])).toEqual([
      ['app/001_a1', 'failed'],
      ['app/002_b1', 'applied'],
      ['app/003_b2', 'skipped'],
      ['app/004_a2', 'skipped'],
    ])
    expect(report.lanes).toEqual([
      {
        stores: ['a'],
        state: 'failed',
        done: [],
        failed: ['app/001_a1'],
        cancelled: [],
        notStarted: ['app/004_a2'],
      },
      {
        stores: ['b'],
        state: 'stopped',
        done: ['app/002_b1'],
        failed: [],
        cancelled: [],
        notStarted: ['app/003_b2'],
      },
    ])
  })

  it('reverts in lanes too, dependants first', async () => {
    const { lines, step } = journal()
    const definitions = {
      '001_a1': { ...step('a1', { store: 'a', parents: [] }), down: async () => void lines.push('down a1') },
      '002_b1': {
        ...step('b1', { store: 'b', parents: [], after: ['app/001_a1'] }),
        down: async () => void lines.push('down b1'),
      },
      '003_c1': { ...step('c1', { store: 'c', parents: [] }), down: async () => void lines.push('down c1') },
    }
    const { project: value } = project(definitions)
    await migrate(value, { direction: 'up' })
    const report = await migrate(value, { direction: 'down', target: 'base' })
    expect(report.error).toBeUndefined()
    expect(lines.indexOf('down b1')).toBeLessThan(lines.indexOf('down a1'))
    expect(report.steps.map((result) => result.status)).toEqual(['reverted', 'reverted', 'reverted'])
  })

  it('refuses a concurrency that is not a whole number ≥ 1', async () => {
    const { project: value } = project({})
    await expect(migrate(value, { direction: 'up', concurrency: 0 })).rejects.toThrow(
      'concurrency must be a whole number ≥ 1, got 0',
    )
  })
})

function node(id: string, store: string, extra: Partial<MigrationNode> = {}): MigrationNode {
  return {
    id,
    component: 'app',
    name: id,
    file: `${id}.ts`,
    checksum: id,
    store,
    uses: [],
    parents: [],
    after: [],
    transaction: true,
    repeatable: false,
    reversible: true,
    usesAs: {},
    ...extra,
  }
}

describe('steps without a transaction, back to back on one store', () => {
  const chain = (step: ReturnType<typeof journal>['step'], fails?: string) => ({
    '001_a1': step('a1', { store: 'a', down: true }),
    '002_a2': step('a2', { store: 'a', down: true, fails: fails === 'a2' }),
    '003_a3': step('a3', { store: 'a', down: true }),
  })

  it("write each step's applied record with the next step's running record, in one ledger write", async () => {
    const { lines, step } = journal()
    const { project: value, ledgers } = project(chain(step), { joins: true })
    const report = await migrate(value, { direction: 'up' })
    expect(report.error).toBeUndefined()
    expect(ledgers.a!.writes).toEqual([
      ['running app/001_a1'],
      ['applied app/001_a1', 'running app/002_a2'],
      ['applied app/002_a2', 'running app/003_a3'],
      ['applied app/003_a3'],
    ])
    expect(lines).toEqual(['start a1', 'end a1', 'start a2', 'end a2', 'start a3', 'end a3'])
    expect([...ledgers.a!.ledger.values()].map((entry) => entry.status)).toEqual(['applied', 'applied', 'applied'])

    const down = await migrate(value, { direction: 'down', target: 'base' })
    expect(down.error).toBeUndefined()
    expect(ledgers.a!.writes.slice(4)).toEqual([
      ['running app/003_a3'],
      ['- app/003_a3', 'running app/002_a2'],
      ['- app/002_a2', 'running app/001_a1'],
      ['- app/001_a1'],
    ])
    expect(ledgers.a!.ledger.size).toBe(0)
  })

  it('without Ledger.write, make the same changes one by one', async () => {
    const { step } = journal()
    const { project: value, ledgers } = project(chain(step))
    expect((await migrate(value, { direction: 'up' })).error).toBeUndefined()
    expect(ledgers.a!.writes.flat()).toEqual([
      'running app/001_a1',
      'applied app/001_a1',
      'running app/002_a2',
      'applied app/002_a2',
      'running app/003_a3',
      'applied app/003_a3',
    ])
  })

  it('a failing step in the middle: the one before is recorded applied, its own entry is removed, the rest never start', async () => {
    const { lines, step } = journal()
    const { project: value, ledgers } = project(chain(step, 'a2'), { joins: true })
    const report = await migrate(value, { direction: 'up' })
    expect(report.error?.message).toContain('migration app/002_a2 failed (up): a2 went wrong')
    expect(ledgers.a!.writes).toEqual([
      ['running app/001_a1'],
      ['applied app/001_a1', 'running app/002_a2'],
      ['- app/002_a2'],
    ])
    expect(report.steps.map((result) => [result.id, result.status])).toEqual([
      ['app/001_a1', 'applied'],
      ['app/002_a2', 'failed'],
      ['app/003_a3', 'skipped'],
    ])
    expect(lines).not.toContain('start a3')
  })

  it('a store that refuses the joined write (its lease taken over): the step before ran but is not recorded, the next never starts', async () => {
    const { lines, step } = journal()
    const { project: value, ledgers } = project(chain(step), { joins: true })
    ledgers.a!.adapter.ledger.write = async () => {
      throw new FluxError('LEASE_LOST', 'the lease of store "a" was taken over by pid 7 on host b')
    }
    const report = await migrate(value, { direction: 'up' })
    expect(report.error?.code).toBe('LEASE_LOST')
    expect(report.error?.message).toContain('migration app/001_a1 ran (up) but could not be recorded')
    expect(report.error?.hint).toContain('flux resolve app/001_a1 --applied')
    expect(report.steps.map((result) => result.status)).toEqual(['failed', 'skipped', 'skipped'])
    expect(lines).toEqual(['start a1', 'end a1'])
    // what the store kept: the first step still running, so it shows as dirty
    expect([...ledgers.a!.ledger.values()].map((entry) => [entry.id, entry.status])).toEqual([
      ['app/001_a1', 'running'],
    ])
  })

  it('a cancel during a step: that step is recorded alone, the next never starts', async () => {
    const { lines, step } = journal()
    const controller = new AbortController()
    const definitions = chain(step)
    const first = definitions['001_a1'].up
    definitions['001_a1'].up = async (context) => {
      controller.abort()
      await first(context)
    }
    const { project: value, ledgers } = project(definitions, { joins: true })
    const report = await migrate(value, { direction: 'up', signal: controller.signal })
    expect(report.error?.code).toBe('INTERRUPTED')
    expect(ledgers.a!.writes).toEqual([['running app/001_a1'], ['applied app/001_a1']])
    expect(report.steps.map((result) => result.status)).toEqual(['applied', 'skipped', 'skipped'])
    expect(lines).toEqual(['start a1', 'end a1'])
  })
})

describe('stepDependencies', () => {
  it('waits for the step before on each store and for the nearest planned ancestors through applied ones', () => {
    const nodes = [
      node('a1', 'a'),
      node('b1', 'b'),
      node('a2', 'a', { parents: ['a1'] }), // applied: not in the plan
      node('b2', 'b', { parents: ['b1'], after: ['a2'] }),
      node('c1', 'c'),
    ]
    const steps = [nodes[0]!, nodes[1]!, nodes[3]!, nodes[4]!]
    expect(stepDependencies(steps, nodes, 'up')).toEqual([[], [], [0, 1], []])
    expect(planLanes(steps, nodes, 'up')).toEqual([
      { stores: ['a'], steps: ['a1'], after: [] },
      { stores: ['b'], steps: ['b1', 'b2'], after: ['a1'] },
      { stores: ['c'], steps: ['c1'], after: [] },
    ])
  })
})

describe('runUnits', () => {
  const steps = [node('a1', 'a'), node('b1', 'b'), node('a2', 'a'), node('b2', 'b'), node('a3', 'a')]
  const waits = stepDependencies(steps, steps, 'up')

  it("batches a store's steps across the other lanes' steps between them", () => {
    const units = runUnits(steps, waits, () => 'batch', { adjacent: false, limit: 1000 })
    expect(units.map((unit) => unit.steps)).toEqual([
      [0, 2, 4],
      [1, 3],
    ])
  })

  it('one step at a time, batches only steps next to each other', () => {
    const units = runUnits(steps, waits, () => 'batch', { adjacent: true, limit: 1000 })
    expect(units.map((unit) => unit.steps)).toEqual([[0], [1], [2], [3], [4]])
  })

  it('does not batch past a step that waits for another lane that waits for the batch', () => {
    const nodes = [node('a1', 'a'), node('b1', 'b', { after: ['a1'] }), node('a2', 'a', { after: ['b1'] })]
    const units = runUnits(nodes, stepDependencies(nodes, nodes, 'up'), () => 'batch', { adjacent: false, limit: 1000 })
    expect(units.map((unit) => [unit.steps, unit.waitsFor])).toEqual([
      [[0], []],
      [[1], [0]],
      [[2], [0, 1]],
    ])
  })
})
