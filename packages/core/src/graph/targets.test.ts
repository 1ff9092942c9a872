import { describe, expect, it } from 'vitest'
import { appliedInOrder } from '../../test/graph-fixtures.ts'
import type { LedgerEntry } from '../adapter.ts'
import { FluxError } from '../errors.ts'
import { createPlan } from '../plan.ts'
import type { MigrationNode } from './graph.ts'
import { resolveTarget, revisionRange } from './targets.ts'

function node(id: string, parents: string[] = [], after: string[] = []): MigrationNode {
  const [component, name] = id.split('/') as [string, string]
  return {
    id,
    component,
    name,
    file: `${id}.ts`,
    checksum: `sha256:${id}`,
    store: 'db',
    uses: [],
    usesAs: {},
    parents: parents.map((parent) => `${component}/${parent}`),
    after,
    transaction: true,
    repeatable: false,
    reversible: true,
  }
}

// app: 001_a → 002_b → 003_c → 004_d; lib: 001_l → 002_m, on its own
const nodes = [
  node('app/001_a'),
  node('app/002_b', ['001_a']),
  node('app/003_c', ['002_b']),
  node('app/004_d', ['003_c']),
  node('lib/001_l'),
  node('lib/002_m', ['001_l']),
]

const ledger = (...ids: string[]): Record<string, LedgerEntry[]> => ({ db: appliedInOrder(ids) })

function steps(direction: 'up' | 'down', target: string, applied: string[] = [], graph = nodes): string[] {
  return createPlan({
    nodes: graph,
    ledgers: ledger(...applied),
    stores: { db: { kind: 'pg', transactions: true } },
    direction,
    target,
    leased: ['db'],
  }).steps.map((step) => step.id)
}

function refusal(run: () => unknown): string {
  try {
    run()
  } catch (error) {
    expect(FluxError.is(error) && error.exitCode).toBe(2)
    return (error as Error).message
  }
  throw new Error('expected a TARGET_INVALID error')
}

describe('unique prefixes', () => {
  it('a prefix of an id or a name names the one migration it starts', () => {
    expect(resolveTarget(nodes, 'app/003').id).toBe('app/003_c')
    expect(resolveTarget(nodes, '004').id).toBe('app/004_d')
    expect(steps('up', 'app/002')).toEqual(['app/001_a', 'app/002_b'])
  })

  it('an ambiguous prefix lists its candidates', () => {
    expect(refusal(() => resolveTarget(nodes, '00'))).toBe(
      'target "00" is ambiguous: app/001_a, app/002_b, app/003_c, app/004_d, lib/001_l, lib/002_m',
    )
    expect(refusal(() => steps('down', 'lib/00', ['lib/001_l']))).toBe(
      'target "lib/00" is ambiguous: lib/001_l, lib/002_m',
    )
  })
})

describe('relative targets', () => {
  it("`<component>@+N` goes N up from the component's current head, or from its base", () => {
    expect(steps('up', 'app@+2')).toEqual(['app/001_a', 'app/002_b'])
    expect(steps('up', 'app@+1', ['app/001_a', 'app/002_b'])).toEqual(['app/003_c'])
    expect(refusal(() => steps('up', 'app@+3', ['app/001_a', 'app/002_b']))).toBe(
      '"app@+3" cannot go 3 steps up: 2 at most (app/004_d is a head)',
    )
  })

  it('`<id>+N` and `<id>-N` go along parents from a migration', () => {
    expect(steps('up', 'app/001_a+2')).toEqual(['app/001_a', 'app/002_b', 'app/003_c'])
    expect(steps('up', '004_d-2')).toEqual(['app/001_a', 'app/002_b'])
    expect(steps('down', 'app/004_d-2', ['app/001_a', 'app/002_b', 'app/003_c', 'app/004_d'])).toEqual([
      'app/004_d',
      'app/003_c',
    ])
  })

  it('`+N` and `-N` start from the one current head, and are ambiguous over several', () => {
    expect(steps('up', '+1', ['app/001_a'], nodes.slice(0, 4))).toEqual(['app/002_b'])
    expect(steps('down', '-2', ['app/001_a', 'app/002_b', 'app/003_c'], nodes.slice(0, 4))).toEqual([
      'app/003_c',
      'app/002_b',
    ])
    expect(refusal(() => steps('down', '-1', ['app/001_a', 'lib/001_l']))).toBe(
      '"-1" is ambiguous: several heads are applied (app/001_a, lib/001_l)',
    )
    expect(refusal(() => steps('up', '+1'))).toBe(
      '"+1" is ambiguous: nothing is applied and there are 2 roots (app/001_a, lib/001_l)',
    )
    // naming the component settles it, and leaves the other component alone
    expect(steps('down', 'lib@-1', ['app/001_a', 'lib/001_l', 'lib/002_m'])).toEqual(['lib/002_m'])
  })

  it('going down exactly past a root reverts the root too; further is an error', () => {
    const all = ['app/001_a', 'app/002_b', 'lib/001_l']
    expect(steps('down', 'app@-2', all)).toEqual(['app/002_b', 'app/001_a'])
    expect(refusal(() => steps('down', 'app@-3', all))).toBe(
      '"app@-3" cannot go 3 steps down: 2 at most (app/001_a is a root)',
    )
    expect(refusal(() => steps('down', 'app@-1', ['lib/001_l']))).toBe(
      '"app@-1": nothing of app is applied, so there is nothing to go down from',
    )
  })

  it('a relative step through a branch point or a merge point must name the side', () => {
    const branched = [
      node('app/a'),
      node('app/b', ['a']),
      node('app/c', ['b']),
      node('app/d', ['b']),
      node('app/m', ['c', 'd']),
    ]
    expect(refusal(() => steps('up', 'app/b+1', [], branched))).toBe(
      '"app/b+1" is ambiguous: app/b is a branch point (app/c, app/d)',
    )
    expect(refusal(() => steps('down', 'app/m-2', ['app/a', 'app/b', 'app/c', 'app/d', 'app/m'], branched))).toBe(
      '"app/m-2" is ambiguous: app/m is a merge point (app/c, app/d)',
    )
    expect(steps('down', 'app/c-1', ['app/a', 'app/b', 'app/c', 'app/d', 'app/m'], branched)).toEqual([
      'app/m',
      'app/d',
      'app/c',
    ])
  })

  it('a name that ends like a relative step is still the name', () => {
    const named = [node('app/001_step-2'), node('app/002_next', ['001_step-2'])]
    expect(steps('up', 'step-2', [], named)).toEqual(['app/001_step-2'])
  })
})

describe('heads and base', () => {
  it('`heads` is for up; `base` and `<component>@base` plan nothing going up', () => {
    expect(steps('up', 'heads')).toHaveLength(6)
    expect(steps('up', 'base')).toEqual([])
    expect(steps('up', 'app@base')).toEqual([])
    expect(refusal(() => steps('down', 'heads', ['app/001_a']))).toBe('`heads` is a target for `up`')
  })
})

describe('history ranges', () => {
  const all = new Set(nodes.map((node) => node.id))
  const range = (text: string) => [...revisionRange(nodes, text, all)].sort()

  it('`a:b` from a to b, both included; `:b` from base; `a:` to the heads', () => {
    expect(range('app/002_b:app/003_c')).toEqual(['app/002_b', 'app/003_c'])
    expect(range(':002_b')).toEqual(['app/001_a', 'app/002_b'])
    expect(range('003_c:')).toEqual(['app/003_c', 'app/004_d'])
    expect(range('lib@base:')).toEqual(['lib/001_l', 'lib/002_m'])
    expect(range('app@-2:app@-1')).toEqual(['app/002_b', 'app/003_c'])
  })

  it('refuses an end that is not an ancestor of the other, and what is not a range', () => {
    expect(refusal(() => range('003_c:002_b'))).toBe('"003_c:002_b": app/003_c is not an ancestor of app/002_b')
    expect(refusal(() => range('a:b:c'))).toBe('"a:b:c" is not a range')
  })
})
