import { describe, expect, it } from 'vitest'
import type { LedgerEntry } from './adapter.ts'
import { buildGraph } from './graph.ts'
import { headsByComponent } from './graph-tools.ts'
import type { LoadedMigration } from './load-migrations.ts'
import { defineMigration } from './migration.ts'
import { createPlan, resolveTarget } from './plan.ts'

// The scenarios of Alembic's "Working with Branches" documentation, as flux graphs.
function migrations(spec: Record<string, { parents?: string[]; after?: string[] }>): LoadedMigration[] {
  return Object.entries(spec).map(([id, edges]) => {
    const [component, name] = id.split('/') as [string, string]
    return {
      id,
      component,
      name,
      file: `/p/${id}.ts`,
      displayFile: `${id}.ts`,
      checksum: `sha256:${name}`,
      definition: defineMigration({
        store: 'db',
        parents: edges.parents ?? [],
        up: async () => {},
        down: async () => {},
        ...(edges.after ? { after: edges.after } : {}),
      }),
    }
  })
}

const applied = (...ids: string[]): Record<string, LedgerEntry[]> => ({
  db: ids.map((id) => ({
    id,
    checksum: `sha256:${id.split('/')[1]}`,
    status: 'applied',
    appliedAt: '',
    durationMs: 0,
    runId: 'r',
    fluxVersion: '0',
  })),
})

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
  migrations({
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
      migrations({
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
    // downgrading below the merge point reverts the merge before either branch
    expect(plan(merged, applied('app/a', 'app/b', 'app/c1', 'app/d1', 'app/m'), 'app/c1', 'down')).toEqual([
      'app/m',
      'app/d1',
    ])
  })

  it('two independent bases are two roots; each can be upgraded alone', () => {
    const bases = buildGraph(
      migrations({ 'app/x1': {}, 'app/x2': { parents: ['x1'] }, 'app/y1': {}, 'app/y2': { parents: ['y1'] } }),
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
      migrations({
        'app/a': {},
        'app/c1': { parents: ['a'] },
        'app/d1': { parents: ['a'] },
        'app/d2': { parents: ['d1', 'c1'] },
      }),
      ['db'],
    )
    expect(plan(crossed, applied('app/a'), 'app/d2')).toEqual(['app/c1', 'app/d1', 'app/d2'])
    // reverting c1 reverts what depends on it across the branch
    expect(plan(crossed, applied('app/a', 'app/c1', 'app/d1', 'app/d2'), 'app/a', 'down').slice(0, 1)).toEqual([
      'app/d2',
    ])
  })
})
