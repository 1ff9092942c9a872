import { describe, expect, it } from 'vitest'
import { appliedInOrder, type EdgeSpec, specMigrations } from '../../test/graph-fixtures.ts'
import { FluxError } from '../errors.ts'
import { createPlan } from '../plan.ts'
import { buildGraph } from './graph.ts'
import { resolveTarget } from './targets.ts'

// Alembic's revision-traversal cases (tests/test_version_traversal.py, tests/test_revision.py),
// as flux graphs. Alembic's "current heads" become the ledger: the migrations listed are applied,
// in that order. Where flux differs from Alembic on purpose, the case says why.

function graphOf(spec: EdgeSpec) {
  return buildGraph(specMigrations(spec), ['db']).nodes
}

type Nodes = ReturnType<typeof graphOf>

function plan(nodes: Nodes, direction: 'up' | 'down', target: string | undefined, applied: string[], steps?: number) {
  const ledger = appliedInOrder(applied)
  return createPlan({
    nodes,
    ledgers: { db: ledger },
    stores: { db: { kind: 'pg', transactions: true } },
    direction,
    target,
    steps,
    leased: ['db'],
  }).steps.map((step) => step.id.replace(/^app\//, ''))
}

const ids = (...names: string[]) => names.map((name) => (name.includes('/') ? name : `app/${name}`))

function refusal(run: () => unknown): string {
  try {
    run()
  } catch (error) {
    expect(FluxError.is(error) && [error.code, error.exitCode]).toEqual(['TARGET_INVALID', 2])
    return (error as Error).message
  }
  throw new Error('expected a refusal')
}

describe('RevisionPathTest: a → b → c → d → e', () => {
  const line = graphOf({
    'app/a': {},
    'app/b': { parents: ['a'] },
    'app/c': { parents: ['b'] },
    'app/d': { parents: ['c'] },
    'app/e': { parents: ['d'] },
  })
  const up = (target: string, ...applied: string[]) => plan(line, 'up', target, ids(...applied))
  const down = (target: string, ...applied: string[]) => plan(line, 'down', target, ids(...applied))

  it('downgrade to base with nothing applied, or to an applied revision that is the head, does nothing', () => {
    expect(down('base')).toEqual([])
    expect(down('app/a', 'a')).toEqual([])
    expect(down('app/e', 'a', 'b', 'c', 'd', 'e')).toEqual([])
  })

  it('upgrade path', () => {
    expect(up('app/e', 'a', 'b', 'c')).toEqual(['d', 'e'])
    expect(up('app/c')).toEqual(['a', 'b', 'c'])
  })

  it('relative upgrade path', () => {
    expect(up('+2', 'a')).toEqual(['b', 'c'])
    expect(up('+1', 'a')).toEqual(['b'])
    expect(up('+3', 'a', 'b')).toEqual(['c', 'd', 'e'])
    expect(up('app/b+2', 'a')).toEqual(['b', 'c', 'd'])
    expect(up('app/d-2', 'a')).toEqual(['b'])
  })

  it('invalid relative upgrade path', () => {
    // alembic: "Relative revision -2 didn't produce 2 migrations"; flux says -N is a target for down
    expect(refusal(() => up('-2', 'a', 'b'))).toBe('"-2" goes down from the current head: it is a target for `down`')
    // alembic: "Relative revision +5 didn't produce 5 migrations"
    expect(refusal(() => up('+5', 'a', 'b'))).toBe('"+5" cannot go 5 steps up: 3 at most (app/e is a head)')
  })

  it('downgrade path', () => {
    expect(down('app/c', 'a', 'b', 'c', 'd', 'e')).toEqual(['e', 'd'])
    expect(down('base', 'a', 'b', 'c')).toEqual(['c', 'b', 'a'])
  })

  it('relative downgrade path', () => {
    expect(down('-1', 'a', 'b', 'c')).toEqual(['c'])
    expect(down('-3', 'a', 'b', 'c', 'd', 'e')).toEqual(['e', 'd', 'c'])
    expect(down('app/a+2', 'a', 'b', 'c', 'd')).toEqual(['d'])
    expect(down('app/c-2', 'a', 'b', 'c', 'd')).toEqual(['d', 'c', 'b'])
  })

  it('invalid relative downgrade path', () => {
    // alembic: "Relative revision -5 didn't produce 5 migrations"
    expect(refusal(() => down('-5', 'a', 'b'))).toBe('"-5" cannot go 5 steps down: 2 at most (app/a is a root)')
    // alembic: "Relative revision +2 didn't produce 2 migrations"; in flux, b+2 = d, which is not applied
    expect(refusal(() => down('+2', 'a', 'b'))).toBe('app/d is not applied, so `down` cannot stop at it')
  })

  it('a destination that is not applied is not a valid downgrade target (unique prefixes too)', () => {
    // alembic: "Destination b is not a valid downgrade target from current head(s)"
    expect(refusal(() => down('app/b'))).toBe('app/b is not applied, so `down` cannot stop at it')
    expect(refusal(() => down('app/c', 'a', 'b'))).toBe('app/c is not applied, so `down` cannot stop at it')
  })
})

describe('BranchedPathTest: a → b → {c1 → d1, c2 → d2}', () => {
  const branched = graphOf({
    'app/a': {},
    'app/b': { parents: ['a'] },
    'app/c1': { parents: ['b'] },
    'app/d1': { parents: ['c1'] },
    'app/c2': { parents: ['b'] },
    'app/d2': { parents: ['c2'] },
  })
  const up = (target: string, ...applied: string[]) => plan(branched, 'up', target, ids(...applied))
  const down = (target: string, ...applied: string[]) => plan(branched, 'down', target, ids(...applied))
  const both = ['a', 'b', 'c1', 'd1', 'c2', 'd2']

  it('upgrade a single branch, and both', () => {
    expect(up('app/d1', 'a', 'b')).toEqual(['c1', 'd1'])
    // alembic orders b, c2, d2, c1, d1; flux breaks ties by file name: the same set, parents first
    expect(up('heads', 'a')).toEqual(['b', 'c1', 'c2', 'd1', 'd2'])
  })

  it('downgrade both branches to a: the most recently applied first', () => {
    // alembic reverts d1, c1, d2, c2, b (branch by branch); flux reverts by when each was applied
    expect(down('app/a', ...both)).toEqual(['d2', 'c2', 'd1', 'c1', 'b'])
  })

  it('relative targets from a migration name the branch (flux has no branch labels)', () => {
    // alembic "c2branch@head-1" from b: flux names the branch by its head, d2
    expect(up('app/d2-1', 'a', 'b')).toEqual(['c2'])
    // alembic "c1branch@-1" and "d2-1": one step down that branch only
    expect(down('app/d1-1', ...both)).toEqual(['d1'])
    expect(down('app/d2-1', 'a', 'b', 'c2', 'd2', 'c1')).toEqual(['d2'])
    expect(down('app/d2-1', 'a', 'b', 'c1', 'c2', 'd2')).toEqual(['d2'])
    // alembic "c2branch@+1" from c1, c2
    expect(up('app/c2+1', 'a', 'b', 'c1', 'c2')).toEqual(['d2'])
  })

  it('base+2 is b: everything above b goes', () => {
    expect(down('base+2', ...both)).toEqual(['d2', 'c2', 'd1', 'c1'])
    expect(down('app@base+2', ...both)).toEqual(['d2', 'c2', 'd1', 'c1'])
    // alembic "c2branch@base+3" = c2
    expect(down('app/c2', ...both)).toEqual(['d2'])
  })

  it('-1 over two heads: alembic warns and picks by order; flux refuses, and --steps 1 takes the newest', () => {
    // flux refuses on purpose: which branch loses a migration should not depend on an accident of order
    expect(refusal(() => down('-1', ...both))).toBe('"-1" is ambiguous: several heads are applied (app/d1, app/d2)')
    expect(plan(branched, 'down', undefined, ids(...both), 1)).toEqual(['d2'])
    expect(plan(branched, 'down', undefined, ids('a', 'b', 'c2', 'd2', 'c1', 'd1'), 1)).toEqual(['d1'])
    expect(plan(branched, 'down', undefined, ids('a', 'b', 'c1', 'c2'), 1)).toEqual(['c2'])
  })

  it('+1 over two heads is ambiguous; from nothing, +1 and base+1 are the root', () => {
    // alembic: "Ambiguous upgrade from multiple current revisions"
    expect(refusal(() => up('+1', 'a', 'b', 'c1', 'c2'))).toBe(
      '"+1" is ambiguous: several heads are applied (app/c1, app/c2)',
    )
    expect(up('+1')).toEqual(['a'])
    expect(up('base+1')).toEqual(['a'])
  })

  it('-1 down to base, and -1 from base', () => {
    expect(down('-1', 'a')).toEqual(['a'])
    // alembic: "Relative revision -1 didn't produce 1 migrations"
    expect(refusal(() => down('-1'))).toBe('"-1": nothing is applied, so there is nothing to go down from')
  })

  it('a downgrade to a head of either branch does nothing', () => {
    expect(down('app/c2', 'a', 'b', 'c1', 'd1', 'c2')).toEqual([])
    expect(down('app/d1', 'a', 'b', 'c1', 'd1', 'c2')).toEqual([])
  })
})

describe('BranchFromMergepointTest: a1 → b1 → c1, a2 → b2 → c2, d1 merges c1 and c2, d2 on c2', () => {
  const merged = graphOf({
    'app/a1': {},
    'app/b1': { parents: ['a1'] },
    'app/c1': { parents: ['b1'] },
    'app/a2': {},
    'app/b2': { parents: ['a2'] },
    'app/c2': { parents: ['b2'] },
    'app/d1': { parents: ['c1', 'c2'] },
    'app/d2': { parents: ['c2'] },
  })

  it('upgrade to the mergepoint from one side', () => {
    expect(plan(merged, 'up', 'app/d1', ids('a1', 'b1', 'a2', 'b2', 'c2', 'd2'))).toEqual(['c1', 'd1'])
  })

  it('downgrade one side below the mergepoint: the merge and that side go, d2 stays', () => {
    const all = ids('a1', 'b1', 'c1', 'a2', 'b2', 'c2', 'd2', 'd1')
    expect(plan(merged, 'down', 'app/b1', all)).toEqual(['d1', 'c1'])
  })

  it('a relative step down from a merge point must name the side', () => {
    const all = ids('a1', 'b1', 'c1', 'a2', 'b2', 'c2', 'd2', 'd1')
    expect(refusal(() => plan(merged, 'down', 'app/d1-2', all))).toBe(
      '"app/d1-2" is ambiguous: app/d1 is a merge point (app/c1, app/c2)',
    )
  })
})

describe('BranchFrom3WayMergepointTest', () => {
  const merged = graphOf({
    'app/a1': {},
    'app/b1': { parents: ['a1'] },
    'app/c1': { parents: ['b1'] },
    'app/a2': {},
    'app/b2': { parents: ['a2'] },
    'app/c2': { parents: ['b2'] },
    'app/a3': {},
    'app/b3': { parents: ['a3'] },
    'app/c3': { parents: ['b3'] },
    'app/d1': { parents: ['c1', 'c2', 'c3'] },
    'app/d2': { parents: ['c2'] },
    'app/d3': { parents: ['c3'] },
  })
  const all = ids('a1', 'b1', 'c1', 'a2', 'b2', 'c2', 'a3', 'b3', 'c3', 'd1', 'd2', 'd3')

  it('upgrade to the mergepoint from one side, and from two', () => {
    const someApplied = ids('a2', 'b2', 'c2', 'd2', 'a3', 'b3', 'c3', 'd3', 'a1', 'b1')
    expect(plan(merged, 'up', 'app/d1', someApplied)).toEqual(['c1', 'd1'])
    const twoSides = ids('a3', 'b3', 'c3', 'd3', 'a2', 'b2', 'a1', 'b1')
    expect(plan(merged, 'up', 'app/d1', twoSides)).toEqual(['c1', 'c2', 'd1'])
  })

  it('downgrade one side below the mergepoint', () => {
    expect(plan(merged, 'down', 'app/b1', all)).toEqual(['d1', 'c1'])
  })
})

describe('DependsOnBranchTest: a dependency on another branch is an `after` edge to another component', () => {
  // lib: a1 → b1 → c1 → d1 → e1 → f1; app: a2 → b2 → c2, c2 after lib/c1 (alembic depends_on)
  const depends = graphOf({
    'lib/a1': {},
    'lib/b1': { parents: ['a1'] },
    'lib/c1': { parents: ['b1'] },
    'lib/d1': { parents: ['c1'] },
    'lib/e1': { parents: ['d1'] },
    'lib/f1': { parents: ['e1'] },
    'app/a2': {},
    'app/b2': { parents: ['a2'] },
    'app/c2': { parents: ['b2'], after: ['lib/c1'] },
  })
  const applied = ids('lib/a1', 'lib/b1', 'lib/c1', 'lib/d1', 'a2', 'b2', 'c2')

  it('downgrading to the dependency leaves the dependant applied', () => {
    expect(plan(depends, 'down', 'lib/c1', applied)).toEqual(['lib/d1'])
  })

  it('downgrading below the dependency reverts the dependant first (flux names it)', () => {
    expect(plan(depends, 'down', 'lib/b1', applied)).toEqual(['c2', 'lib/d1', 'lib/c1'])
  })

  it('the kaboom graph: down to b2 reverts bmerge only, though o/d1 depends on b2', () => {
    const kaboom = graphOf({
      'app/a1': {},
      'app/a2': {},
      'app/a3': {},
      'app/amerge': { parents: ['a1', 'a2', 'a3'] },
      'app/b1': {},
      'app/b2': {},
      'app/bmerge': { parents: ['b1', 'b2'] },
      'app/c1': {},
      'app/c2': {},
      'app/c3': {},
      'app/cmerge': { parents: ['c1', 'c2', 'c3'] },
      'o/d1': { after: ['app/a3', 'app/b2', 'app/c1'] },
    })
    const everything = kaboom.map((node) => node.id)
    expect(plan(kaboom, 'down', 'app/b2', everything)).toEqual(['bmerge'])
    // down to b1 is the same: b2 is not above b1, so o/d1 keeps what it depends on
    expect(plan(kaboom, 'down', 'app/b1', everything)).toEqual(['bmerge'])
    // the whole component goes: o/d1 depends on it, so it goes first
    expect(plan(kaboom, 'down', 'app@base', everything).slice(0, 1)).toEqual(['o/d1'])
  })
})

describe('test_revision.py: resolving revisions', () => {
  const nodes = graphOf({ 'app/abc1': {}, 'app/abd2': { parents: ['abc1'] }, 'app/xyz': { parents: ['abd2'] } })

  it('a unique prefix resolves; several revisions starting so are ambiguous; an unknown one is refused', () => {
    expect(resolveTarget(nodes, 'app/x').id).toBe('app/xyz')
    expect(resolveTarget(nodes, 'abc').id).toBe('app/abc1')
    // alembic: "Multiple revisions start with 'ab'"
    expect(refusal(() => resolveTarget(nodes, 'ab'))).toBe('target "ab" is ambiguous: app/abc1, app/abd2')
    // alembic: "No such revision or branch 'q'"
    expect(refusal(() => resolveTarget(nodes, 'q'))).toBe('no migration is named "q"')
  })

  it('`<component>@head` with several heads is ambiguous (alembic: "Multiple head revisions are present")', () => {
    const two = graphOf({ 'app/a': {}, 'app/b': { parents: ['a'] }, 'app/c': { parents: ['a'] } })
    expect(refusal(() => resolveTarget(two, 'app@head'))).toContain('"app@head" is ambiguous: app has 2 heads')
  })
})
