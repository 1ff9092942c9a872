import { describe, expect, it } from 'vitest'
import { appliedInOrder, specMigrations } from '../../test/graph-fixtures.ts'
import type { LedgerEntry } from '../adapter.ts'
import { createPlan } from '../plan.ts'
import { buildGraph } from './graph.ts'
import { headsByComponent } from './graph-tools.ts'
import { resolveTarget } from './targets.ts'

// The scenarios of Alembic's "Working with Branches" documentation, as flux graphs.
// applied in the order given, one second apart
const applied = (...ids: string[]): Record<string, LedgerEntry[]> => ({ db: appliedInOrder(ids) })

function plan(
  graph: ReturnType<typeof buildGraph>,
  ledgers: Record<string, LedgerEntry[]>,
  target?: string,
  direction: 'up' | 'down' = 'up',
) {
  return createPlan({
    nodes: graph.nodes,
    ledgers,
    stores: { db: { kind: 'pg', transactions: true } },
    direction,
    target,
    leased: ['db'],
  }).steps.map((step) => step.id)
}

const errorOf = (run: () => unknown) => {
  try {
    run()
  } catch (error) {
    return (error as Error).message
  }
  throw new Error('expected an error')
}

// a → b → {c1, d1} : a branch point after b, two heads
const branched = buildGraph(
  specMigrations({
    'app/a': {},
    'app/b': { parents: ['a'] },
    'app/c1': { parents: ['b'] },
    'app/c2': { parents: ['c1'] },
    'app/d1': { parents: ['b'] },
  }),
  ['db'],
)

describe('alembic branch scenarios', () => {
  it('a branch point gives two heads; `heads` applies both branches, the shared base first', () => {
    expect(
      headsByComponent(branched.nodes)
        .get('app')!
        .map((node) => node.id),
    ).toEqual(['app/c2', 'app/d1'])
    const order = plan(branched, applied())
    expect(order.slice(0, 2)).toEqual(['app/a', 'app/b'])
    expect(order.indexOf('app/c1')).toBeLessThan(order.indexOf('app/c2'))
    expect(order.sort()).toEqual(['app/a', 'app/b', 'app/c1', 'app/c2', 'app/d1'])
    expect(plan(branched, applied(), 'heads')).toHaveLength(5)
  })

  it('upgrading one branch applies only that branch and its ancestors', () => {
    expect(plan(branched, applied(), 'app/d1')).toEqual(['app/a', 'app/b', 'app/d1'])
    expect(plan(branched, applied('app/a', 'app/b', 'app/d1'), 'app/c2')).toEqual(['app/c1', 'app/c2'])
  })

  it('`<component>@head` is ambiguous with two heads, like alembic\'s "Multiple head revisions"', () => {
    expect(errorOf(() => resolveTarget(branched.nodes, 'app@head'))).toBe(
      '"app@head" is ambiguous: app has 2 heads (app/c2, app/d1)',
    )
  })

  it('a merge migration joins the heads: one head again, and it runs after both branches', () => {
    const merged = buildGraph(
      specMigrations({
        'app/a': {},
        'app/b': { parents: ['a'] },
        'app/c1': { parents: ['b'] },
        'app/d1': { parents: ['b'] },
        'app/m': { parents: ['c1', 'd1'] },
      }),
      ['db'],
    )
    expect(
      headsByComponent(merged.nodes)
        .get('app')!
        .map((node) => node.id),
    ).toEqual(['app/m'])
    expect(resolveTarget(merged.nodes, 'app@head').id).toBe('app/m')
    const order = plan(merged, applied('app/a', 'app/b', 'app/c1'))
    expect(order).toEqual(['app/d1', 'app/m'])
    // downgrading to one side of the merge point reverts the merge only: the other side stays (alembic too)
    expect(plan(merged, applied('app/a', 'app/b', 'app/c1', 'app/d1', 'app/m'), 'app/c1', 'down')).toEqual(['app/m'])
    // below the branch point both sides go, the merge first
    expect(plan(merged, applied('app/a', 'app/b', 'app/c1', 'app/d1', 'app/m'), 'app/b', 'down')).toEqual([
      'app/m',
      'app/d1',
      'app/c1',
    ])
  })

  it('two independent bases are two roots; each can be upgraded alone', () => {
    const bases = buildGraph(
      specMigrations({ 'app/x1': {}, 'app/x2': { parents: ['x1'] }, 'app/y1': {}, 'app/y2': { parents: ['y1'] } }),
      ['db'],
    )
    expect(
      headsByComponent(bases.nodes)
        .get('app')!
        .map((node) => node.id),
    ).toEqual(['app/x2', 'app/y2'])
    expect(plan(bases, applied(), 'app/y2')).toEqual(['app/y1', 'app/y2'])
    expect(plan(bases, applied('app/y1', 'app/y2'), 'base', 'down')).toEqual(['app/y2', 'app/y1'])
  })

  it('a dependency across branches (alembic depends_on) orders without merging', () => {
    const crossed = buildGraph(
      specMigrations({
        'app/a': {},
        'app/c1': { parents: ['a'] },
        'app/d1': { parents: ['a'] },
        'app/d2': { parents: ['d1', 'c1'] },
      }),
      ['db'],
    )
    expect(plan(crossed, applied('app/a'), 'app/d2')).toEqual(['app/c1', 'app/d1', 'app/d2'])
    // d2 lies above both c1 and d1: taking either down reverts d2 only, the other branch stays
    const all = applied('app/a', 'app/c1', 'app/d1', 'app/d2')
    expect(plan(crossed, all, 'app/c1', 'down')).toEqual(['app/d2'])
    expect(plan(crossed, all, 'app/d1', 'down')).toEqual(['app/d2'])
    expect(plan(crossed, all, 'app/a', 'down')).toEqual(['app/d2', 'app/d1', 'app/c1'])
  })
})

function downPlan(
  graph: ReturnType<typeof buildGraph>,
  ledgers: Record<string, LedgerEntry[]>,
  target?: string,
  steps?: number,
) {
  return createPlan({
    nodes: graph.nodes,
    ledgers,
    stores: { db: { kind: 'pg', transactions: true } },
    direction: 'down',
    target,
    steps,
    leased: ['db'],
  }).steps.map((step) => [step.id, step.reason])
}

const codeOf = (run: () => unknown) => {
  try {
    run()
  } catch (error) {
    return [(error as { code: string }).code, (error as Error).message]
  }
  throw new Error('expected an error')
}

// two components: lib (l1 → l2 → l3) and app (a1 → a2), app/a1 after lib/l1, app/a2 after lib/l2
const components = buildGraph(
  specMigrations({
    'lib/l1': {},
    'lib/l2': { parents: ['l1'] },
    'lib/l3': { parents: ['l2'] },
    'app/a1': { after: ['lib/l1'] },
    'app/a2': { parents: ['a1'], after: ['lib/l2'] },
  }),
  ['db'],
)
const everything = applied('lib/l1', 'lib/l2', 'app/a1', 'lib/l3', 'app/a2')

describe('down reverts what lies above its target, and what depends on that', () => {
  it('leaves the other branch alone', () => {
    expect(plan(branched, applied('app/a', 'app/b', 'app/c1', 'app/c2', 'app/d1'), 'app/c1', 'down')).toEqual([
      'app/c2',
    ])
    expect(plan(branched, applied('app/a', 'app/b', 'app/d1', 'app/c1', 'app/c2'), 'app/b', 'down')).toEqual([
      'app/c2',
      'app/c1',
      'app/d1',
    ])
  })

  it('reverts newest first by when each was applied, not by name', () => {
    expect(plan(branched, applied('app/a', 'app/b', 'app/c1', 'app/d1', 'app/c2'), 'app/b', 'down')).toEqual([
      'app/c2',
      'app/d1',
      'app/c1',
    ])
  })

  it('leaves other components alone, except a dependant, which goes first and says why', () => {
    // l3 lies above l2; nothing in app depends on l3
    expect(downPlan(components, everything, 'lib/l2')).toEqual([['lib/l3', { kind: 'above', of: 'lib/l2' }]])
    // l2 lies above l1, and app/a2 depends on l2 through `after`: a2 goes before l2
    expect(downPlan(components, everything, 'lib/l1')).toEqual([
      ['app/a2', { kind: 'dependant', of: 'lib/l2', via: 'after' }],
      ['lib/l3', { kind: 'above', of: 'lib/l1' }],
      ['lib/l2', { kind: 'above', of: 'lib/l1' }],
    ])
    // app/a1 depends on the target l1, which stays applied: a1 stays
    expect(downPlan(components, everything, 'app/a1')).toEqual([['app/a2', { kind: 'above', of: 'app/a1' }]])
  })

  it('`<component>@base` takes one component down with its dependants', () => {
    expect(downPlan(components, everything, 'app@base')).toEqual([
      ['app/a2', { kind: 'component', of: 'app' }],
      ['app/a1', { kind: 'component', of: 'app' }],
    ])
    expect(downPlan(components, everything, 'lib@base').map(([id]) => id)).toEqual([
      'app/a2',
      'lib/l3',
      'app/a1',
      'lib/l2',
      'lib/l1',
    ])
    expect(codeOf(() => downPlan(components, everything, 'nope@base'))).toEqual([
      'TARGET_INVALID',
      'no component is named "nope"',
    ])
  })

  it('a target that is not applied is an error, not "nothing to revert"', () => {
    expect(codeOf(() => downPlan(components, applied('lib/l1'), 'lib/l2'))).toEqual([
      'TARGET_INVALID',
      'lib/l2 is not applied, so `down` cannot stop at it',
    ])
  })

  it('--steps N reverts the N most recently applied, and refuses when fewer are applied', () => {
    // two heads (c2, d1): --steps 1 takes the one applied last, whatever its name
    const lastC = applied('app/a', 'app/b', 'app/d1', 'app/c1', 'app/c2')
    const lastD = applied('app/a', 'app/b', 'app/c1', 'app/c2', 'app/d1')
    expect(downPlan(branched, lastC, undefined, 1)).toEqual([['app/c2', { kind: 'steps' }]])
    expect(downPlan(branched, lastD, undefined, 1)).toEqual([['app/d1', { kind: 'steps' }]])
    // a migration is only reverted once nothing applied depends on it
    expect(downPlan(components, everything, undefined, 3).map(([id]) => id)).toEqual(['app/a2', 'lib/l3', 'app/a1'])
    expect(codeOf(() => downPlan(branched, applied('app/a', 'app/b'), undefined, 5))).toEqual([
      'TARGET_INVALID',
      'cannot go down 5 steps: only 2 migrations are applied',
    ])
  })
})
