import { describe, expect, it } from 'vitest'
import type { LedgerEntry } from './adapter.ts'
import { FluxError } from './errors.ts'
import type { MigrationNode } from './graph/graph.ts'
import { resolveTarget } from './graph/targets.ts'
import { createPlan, type PlanInput, statusOf } from './plan.ts'

function node(name: string, extra: Partial<MigrationNode> = {}): MigrationNode {
  return {
    id: `app/${name}`,
    component: 'app',
    name,
    file: `migrations/${name}.ts`,
    checksum: `sha256:${name}`,
    store: 'files',
    uses: [],
    parents: [],
    after: [],
    transaction: true,
    repeatable: false,
    reversible: true,
    usesAs: Object.fromEntries((extra.uses ?? []).map((name) => [name, name])),
    ...extra,
  }
}

const chain = [
  node('001_a'),
  node('002_b', { parents: ['app/001_a'] }),
  node('003_c', { parents: ['app/002_b'], store: 'media', uses: ['files'] }),
]

function entry(id: string, extra: Partial<LedgerEntry> = {}): LedgerEntry {
  const name = id.split('/')[1]!
  return {
    id,
    checksum: `sha256:${name}`,
    status: 'applied',
    appliedAt: '2026-11-21T09:00:00.000Z',
    durationMs: 1,
    runId: 'r1',
    fluxVersion: '0.1.0',
    ...extra,
  }
}

function input(extra: Partial<PlanInput>): PlanInput {
  return {
    nodes: chain,
    ledgers: { files: [], media: [] },
    stores: { files: { kind: 'fs', transactions: false }, media: { kind: 'pg', transactions: true } },
    direction: 'up',
    leased: ['files', 'media'],
    ...extra,
  }
}

describe('createPlan up', () => {
  it('plans every pending migration in order, with the stores to lease sorted', () => {
    const plan = createPlan(input({}))
    expect(plan.steps.map((step) => [step.id, step.action, step.transaction])).toEqual([
      ['app/001_a', 'apply', false],
      ['app/002_b', 'apply', false],
      ['app/003_c', 'apply', true],
    ])
    expect(plan.stores).toEqual(['files', 'media'])
    expect(JSON.parse(JSON.stringify(plan))).toEqual(plan)
  })

  it('plans nothing when everything is applied', () => {
    const plan = createPlan(
      input({ ledgers: { files: [entry('app/001_a'), entry('app/002_b')], media: [entry('app/003_c')] } }),
    )
    expect(plan.steps).toEqual([])
    expect(plan.stores).toEqual([])
  })

  it('stops at the target and its ancestors', () => {
    const plan = createPlan(input({ target: '002_b' }))
    expect(plan.steps.map((step) => step.id)).toEqual(['app/001_a', 'app/002_b'])
  })

  it('reports drift and missing as problems', () => {
    const plan = createPlan(
      input({ ledgers: { files: [entry('app/001_a', { checksum: 'sha256:old' }), entry('app/000_gone')], media: [] } }),
    )
    expect(plan.problems.map((problem) => [problem.kind, problem.id])).toEqual([
      ['drift', 'app/001_a'],
      ['missing', 'app/000_gone'],
    ])
    expect(plan.problems[0]!.message).toContain('migrations/001_a.ts changed after it was applied')
  })

  it('judges a running entry dirty only under the lease', () => {
    const ledgers = { files: [entry('app/001_a', { status: 'running' })], media: [] }
    const unleased = createPlan(input({ ledgers, leased: [] }))
    expect(unleased.problems).toEqual([])
    expect(unleased.stores).toContain('files')
    const leased = createPlan(input({ ledgers }))
    expect(leased.problems.map((problem) => problem.kind)).toEqual(['dirty'])
  })

  it('resumes a dirty migration that saved a checkpoint', () => {
    const plan = createPlan(
      input({ ledgers: { files: [entry('app/001_a', { status: 'running', checkpoint: { done: 5 } })], media: [] } }),
    )
    expect(plan.problems).toEqual([])
    expect(plan.steps[0]).toMatchObject({ id: 'app/001_a', action: 'resume' })
  })

  it('re-applies repeatable migrations when they change, and always ones every time', () => {
    const nodes = [node('001_view', { repeatable: true }), node('002_always', { repeatable: 'always' })]
    const ledgers = { files: [entry('app/001_view', { checksum: 'sha256:old' }), entry('app/002_always')] }
    const plan = createPlan(input({ nodes, ledgers }))
    expect(plan.problems).toEqual([])
    expect(plan.steps.map((step) => [step.id, step.action])).toEqual([
      ['app/001_view', 'reapply'],
      ['app/002_always', 'reapply'],
    ])
  })
})

describe('createPlan down', () => {
  const ledgers = { files: [entry('app/001_a'), entry('app/002_b')], media: [entry('app/003_c')] }

  it('reverts the last n applied, newest first', () => {
    const plan = createPlan(input({ ledgers, direction: 'down', steps: 2 }))
    expect(plan.steps.map((step) => [step.id, step.action])).toEqual([
      ['app/003_c', 'revert'],
      ['app/002_b', 'revert'],
    ])
  })

  it('reverts what comes after the target, and everything for base', () => {
    expect(createPlan(input({ ledgers, direction: 'down', target: '001_a' })).steps.map((step) => step.id)).toEqual([
      'app/003_c',
      'app/002_b',
    ])
    expect(createPlan(input({ ledgers, direction: 'down', target: 'base' })).steps).toHaveLength(3)
  })

  it('picks the most recently applied across stores, and names why each step is in the plan', () => {
    // 003_c and a branch 002_x both on 001_a; 002_x applied last, in another store
    const nodes = [...chain, node('002_x', { parents: ['app/001_a'] })]
    const late = {
      files: [entry('app/001_a'), entry('app/002_b'), entry('app/002_x', { appliedAt: '2026-11-21T10:00:00.000Z' })],
      media: [entry('app/003_c', { appliedAt: '2026-11-21T09:30:00.000Z' })],
    }
    const one = createPlan(input({ nodes, ledgers: late, direction: 'down', steps: 1 }))
    expect(one.steps.map((step) => step.id)).toEqual(['app/002_x'])
    const plan = createPlan(input({ nodes, ledgers: late, direction: 'down', target: '002_b' }))
    expect(JSON.parse(JSON.stringify(plan)).steps).toEqual([
      expect.objectContaining({ id: 'app/003_c', reason: { kind: 'above', of: 'app/002_b' } }),
    ])
    expect(plan.stores).toEqual(['files', 'media'])
  })

  it('refuses a target that is not applied and more steps than are applied (exit 2, nothing planned)', () => {
    for (const extra of [{ target: '003_c' }, { steps: 4 }]) {
      try {
        createPlan(input({ ledgers: { files: [entry('app/001_a'), entry('app/002_b')] }, direction: 'down', ...extra }))
        expect.unreachable()
      } catch (error) {
        expect(FluxError.is(error) && [error.code, error.exitCode]).toEqual(['TARGET_INVALID', 2])
      }
    }
  })

  it('refuses to revert a migration without down()', () => {
    const nodes = [node('001_a', { reversible: false })]
    const plan = createPlan(input({ nodes, ledgers: { files: [entry('app/001_a')] }, direction: 'down', steps: 1 }))
    expect(plan.problems).toEqual([expect.objectContaining({ kind: 'irreversible', id: 'app/001_a' })])
  })
})

describe('targets and status', () => {
  it('resolves ids, bare names and names without their timestamp; refuses ambiguous ones', () => {
    expect(resolveTarget(chain, 'app/002_b').id).toBe('app/002_b')
    expect(resolveTarget(chain, 'b').id).toBe('app/002_b')
    const twins = [node('001_x'), { ...node('001_x'), id: 'lib/001_x', component: 'lib' }]
    try {
      resolveTarget(twins, '001_x')
      expect.unreachable()
    } catch (error) {
      expect(FluxError.is(error) && error.code).toBe('TARGET_INVALID')
      expect((error as Error).message).toContain('app/001_x, lib/001_x')
    }
  })

  it('lists every migration with its status, then ledger entries without a file', () => {
    const rows = statusOf(chain, {
      files: [entry('app/001_a'), entry('app/002_b', { status: 'running' }), entry('app/old')],
      media: [],
    })
    expect(rows.map((row) => [row.id, row.status])).toEqual([
      ['app/001_a', 'applied'],
      ['app/002_b', 'dirty'],
      ['app/003_c', 'pending'],
      ['app/old', 'missing'],
    ])
  })

  it('shows the migrations of a store it could not read as unknown, and the others as they are', () => {
    const rows = statusOf(chain, { files: [entry('app/001_a')] }, { unreachable: ['media'] })
    expect(rows.map((row) => [row.id, row.status])).toEqual([
      ['app/001_a', 'applied'],
      ['app/002_b', 'pending'],
      ['app/003_c', 'unknown'],
    ])
  })
})
