import type { LedgerEntry } from './adapter.ts'
import { FluxError } from './errors.ts'
import type { MigrationNode } from './graph/graph.ts'
import type { ResolvedTarget } from './graph/targets.ts'

/**
 * Why a `down` step is in the plan. `above`: the migration lies above the target (reached
 * from it through `parents`); `dependant`: it depends, through `parents` or `after`, on
 * `of`, which is reverted too (or is the target), so it goes first; `component`: the
 * component `of` goes to its base; `base`: everything goes; `steps`: one of the last N;
 * `relative`: a relative target (`-2`, `app@-1`) goes below this migration, a root.
 */
export interface StepReason {
  kind: 'above' | 'dependant' | 'component' | 'base' | 'steps' | 'relative'
  /** The target, the migration depended on, or the component. */
  of?: string
  /** For `dependant`: the edge kind. */
  via?: 'parents' | 'after'
}

/** What `planDown` needs: the graph, the applied migrations and when each was applied. */
export interface DownInput {
  nodes: readonly MigrationNode[]
  /** Ids of the migrations applied now (applied, drifted, or repeatable with a changed file). */
  applied: ReadonlySet<string>
  ledgers: Readonly<Record<string, readonly LedgerEntry[]>>
  target?: string | undefined
  steps?: number | undefined
  resolve: (target: string) => ResolvedTarget
}

/**
 * The migrations `down` reverts, in the order it reverts them, each with its reason. Alembic's
 * semantics: `down X` reverts exactly the applied descendants of X (X stays applied), never
 * another branch or component except what depends on a reverted migration. Order: a
 * dependant before what it depends on; otherwise the most recently applied first.
 */
export function chooseReverts(input: DownInput): { id: string; reason: StepReason }[] {
  const { nodes, applied } = input
  const byId = new Map(nodes.map((node) => [node.id, node]))
  const children = childrenOf(nodes)
  const reasons = new Map<string, StepReason>()
  if (input.steps !== undefined) {
    if (applied.size < input.steps) {
      throw new FluxError(
        'TARGET_INVALID',
        `cannot go down ${input.steps} steps: only ${applied.size} migration${applied.size === 1 ? ' is' : 's are'} applied`,
        { hint: applied.size > 0 ? `use --steps ${applied.size}, or \`flux down base\`` : 'nothing is applied' },
      )
    }
    const order = revertOrder([...applied], input, byId, children)
    return order.slice(0, input.steps).map((id) => ({ id, reason: { kind: 'steps' } }))
  }
  if (input.target === undefined) {
    throw new FluxError('USAGE', 'say how far to go down: a target migration, `base`, or --steps N')
  }
  const target = input.resolve(input.target)
  if (target.kind === 'heads') {
    throw new FluxError('TARGET_INVALID', '`heads` is a target for `up`', {
      hint: 'go down to a migration, `<component>@base`, `base`, or by steps (`-1`, `<component>@-1`)',
    })
  }
  if (target.kind === 'base') {
    for (const id of applied) reasons.set(id, { kind: 'base' })
  } else if (target.kind === 'component-base') {
    const seeds = nodes.filter((node) => node.component === target.component && applied.has(node.id))
    for (const node of seeds) reasons.set(node.id, { kind: 'component', of: target.component })
    addDependants(
      seeds.map((node) => node.id),
      reasons,
      applied,
      byId,
      children,
    )
  } else {
    if (!applied.has(target.id)) {
      throw new FluxError('TARGET_INVALID', `${target.id} is not applied, so \`down\` cannot stop at it`, {
        migration: target.id,
        hint: '`down <target>` keeps the target applied and reverts what lies above it; run `flux status` to see what is applied',
      })
    }
    const seeds = target.kind === 'from' ? [target.id] : []
    if (target.kind === 'from') reasons.set(target.id, { kind: 'relative' })
    for (const id of above(target.id, byId, children)) {
      if (!applied.has(id)) continue
      reasons.set(id, { kind: 'above', of: target.id })
      seeds.push(id)
    }
    // the target stays applied: only what depends on a reverted migration follows
    addDependants(seeds, reasons, applied, byId, children)
  }
  return revertOrder([...reasons.keys()], input, byId, children).map((id) => ({ id, reason: reasons.get(id)! }))
}

/** What lies above a migration: its descendants through `parents`, in its component. */
function above(id: string, byId: Map<string, MigrationNode>, children: Map<string, string[]>): Set<string> {
  const found = new Set<string>()
  const stack = [id]
  while (stack.length > 0) {
    const current = stack.pop()!
    for (const child of children.get(current) ?? []) {
      if (found.has(child) || !byId.get(child)!.parents.includes(current)) continue
      found.add(child)
      stack.push(child)
    }
  }
  return found
}

/** Adds every applied migration that depends, transitively, on one of `from`, with the edge it depends through. */
function addDependants(
  from: string[],
  reasons: Map<string, StepReason>,
  applied: ReadonlySet<string>,
  byId: Map<string, MigrationNode>,
  children: Map<string, string[]>,
): void {
  const stack = [...from]
  while (stack.length > 0) {
    const current = stack.pop()!
    for (const child of children.get(current) ?? []) {
      if (reasons.has(child) || !applied.has(child)) continue
      const via = byId.get(child)!.parents.includes(current) ? 'parents' : 'after'
      reasons.set(child, { kind: 'dependant', of: current, via })
      stack.push(child)
    }
  }
}

/**
 * `ids` in the order to revert them: a migration only once nothing applied among `ids`
 * depends on it; among those, the most recently applied (its ledger's `appliedAt`, then
 * its place in its store's ledger, then run order).
 */
function revertOrder(
  ids: string[],
  input: DownInput,
  byId: Map<string, MigrationNode>,
  children: Map<string, string[]>,
): string[] {
  const when = new Map<string, { at: string; store: string; index: number }>()
  for (const store of Object.keys(input.ledgers)) {
    for (const [index, entry] of input.ledgers[store]!.entries()) {
      if (byId.get(entry.id)?.store === store) when.set(entry.id, { at: entry.appliedAt, store, index })
    }
  }
  const rank = new Map(input.nodes.map((node, index) => [node.id, index]))
  const newer = (a: string, b: string): boolean => {
    const first = when.get(a)
    const second = when.get(b)
    if (first && second) {
      if (first.at !== second.at) return first.at > second.at
      if (first.store === second.store) return first.index > second.index
    }
    return rank.get(a)! > rank.get(b)!
  }
  const left = new Set(ids)
  const order: string[] = []
  while (left.size > 0) {
    let pick: string | undefined
    for (const id of left) {
      if ((children.get(id) ?? []).some((child) => left.has(child))) continue
      if (pick === undefined || newer(id, pick)) pick = id
    }
    // the graph is acyclic, so some migration is always ready
    left.delete(pick!)
    order.push(pick!)
  }
  return order
}

function childrenOf(nodes: readonly MigrationNode[]): Map<string, string[]> {
  const children = new Map<string, string[]>()
  for (const node of nodes) {
    for (const dependency of [...node.parents, ...node.after]) {
      if (!children.has(dependency)) children.set(dependency, [])
      children.get(dependency)!.push(node.id)
    }
  }
  return children
}

/** The reason in words, for the CLI: `above app/002_b`, `depends on lib/001_x (after)`. */
export function describeReason(reason: StepReason): string {
  switch (reason.kind) {
    case 'above':
      return `above ${reason.of}`
    case 'dependant':
      return `depends on ${reason.of} (${reason.via})`
    case 'component':
      return `${reason.of} goes to its base`
    case 'base':
      return 'everything goes to base'
    case 'steps':
      return 'among the last applied'
    case 'relative':
      return 'the relative target goes below it'
  }
}
