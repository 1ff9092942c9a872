import type { LedgerEntry } from './adapter.ts'
import { FluxError } from './errors.ts'
import type { MigrationNode } from './graph/graph.ts'
import { resolveRevision } from './graph/targets.ts'
import { chooseReverts, type StepReason } from './plan-down.ts'
import { type PlanLane, planLanes } from './run/lanes.ts'

/**
 * Where one migration stands. `retired` is reserved for migrations of retired stores;
 * `unknown` for migrations of a store that `status` could not reach (never in a plan).
 */
export type MigrationStatus = 'applied' | 'pending' | 'dirty' | 'drift' | 'missing' | 'retired' | 'unknown'

export interface StatusRow {
  id: string
  component: string
  name: string
  store: string
  status: MigrationStatus
  /** Migration file, relative to the working directory; absent for `missing`. */
  file?: string
  appliedAt?: string
  durationMs?: number
  runId?: string
  /** A repeatable migration whose file changed since it last ran (status `pending`). */
  changed?: boolean
  /** A dirty migration that saved a checkpoint: `up` resumes it from there. */
  resumable?: boolean
}

export type StepAction = 'apply' | 'reapply' | 'resume' | 'revert'

export interface PlanStep {
  id: string
  component: string
  name: string
  store: string
  uses: string[]
  file: string
  checksum: string
  action: StepAction
  /** The step and its ledger record commit in one transaction of the home store. */
  transaction: boolean
  /** Down only: why the step is in the plan (a dependant of what is reverted goes first). */
  reason?: StepReason
}

export type ProblemKind = 'dirty' | 'drift' | 'missing' | 'irreversible'

export interface Problem {
  kind: ProblemKind
  id: string
  store: string
  file?: string
  message: string
}

/** What `up` or `down` would do. Plain JSON: `flux plan --json` prints it as is. */
export interface Plan {
  direction: 'up' | 'down'
  target: string | null
  steps: PlanStep[]
  /** Integrity problems; a plan with problems is not run. */
  problems: Problem[]
  /** Stores to lease, sorted: every step's home store and the stores it uses. */
  stores: string[]
  /**
   * Groups of stores whose steps run side by side with the other groups' (steps that share a
   * store, or that an edge orders, run one after another).
   */
  lanes: PlanLane[]
}

export interface StoreInfo {
  kind: string
  transactions: boolean
}

/** What `statusOf` needs besides the graph and the ledgers. */
export interface StatusOptions {
  /** Stores the application dropped: migrations touching them are `retired`. */
  retired?: readonly string[]
  /** Disabled components: their ledger entries are neither shown nor `missing`. */
  ignoredComponents?: readonly string[]
  /** Stores whose ledger could not be read (`flux status` goes on without them): their migrations are `unknown`. */
  unreachable?: readonly string[]
}

export interface PlanInput extends StatusOptions {
  /** Migrations in run order (`Graph.nodes`). */
  nodes: readonly MigrationNode[]
  /** Each store's ledger entries, by store name. */
  ledgers: Readonly<Record<string, readonly LedgerEntry[]>>
  stores: Readonly<Record<string, StoreInfo>>
  direction: 'up' | 'down'
  /**
   * A migration id, a bare name where unique, `<component>@head`, `heads` (up), or `base`,
   * `<component>@base` (down). Down keeps the target applied and reverts its applied descendants.
   */
  target?: string | undefined
  /** Down only: revert this many applied migrations, the most recently applied first. */
  steps?: number | undefined
  /**
   * Stores whose ledgers were read while holding their lease: there a `running` entry is
   * dirty (its runner is gone). Elsewhere it may belong to a live runner: it is planned as
   * work to do, so that the store gets leased and the entry judged again.
   */
  leased: readonly string[]
}

/** Where every migration stands, in run order, then ledger entries that have no file (`missing`). */
export function statusOf(
  nodes: readonly MigrationNode[],
  ledgers: PlanInput['ledgers'],
  options: StatusOptions = {},
): StatusRow[] {
  const retired = new Set(options.retired)
  const unreachable = new Set(options.unreachable)
  const ignored = (id: string) => (options.ignoredComponents ?? []).some((component) => id.startsWith(`${component}/`))
  const entries = new Map<string, LedgerEntry>()
  for (const store of Object.keys(ledgers)) {
    for (const entry of ledgers[store]!) entries.set(`${store}\0${entry.id}`, entry)
  }
  const known = new Set<string>()
  const rows: StatusRow[] = nodes.map((node) => {
    known.add(node.id)
    const entry = entries.get(`${node.store}\0${node.id}`)
    const row: StatusRow = {
      id: node.id,
      component: node.component,
      name: node.name,
      store: node.store,
      status: 'pending',
      file: node.file,
    }
    if (retired.has(node.store) || node.uses.some((name) => retired.has(name))) {
      row.status = 'retired'
      return row
    }
    if (unreachable.has(node.store)) {
      row.status = 'unknown'
      return row
    }
    if (!entry) return row
    Object.assign(row, { appliedAt: entry.appliedAt, durationMs: entry.durationMs, runId: entry.runId })
    if (entry.status === 'running') {
      row.status = 'dirty'
      if (entry.checkpoint !== undefined) row.resumable = true
    } else if (entry.checksum === node.checksum) {
      row.status = 'applied'
    } else if (node.repeatable === false) {
      row.status = 'drift'
    } else {
      row.changed = true
    }
    return row
  })
  for (const store of Object.keys(ledgers).sort()) {
    for (const entry of ledgers[store]!) {
      if (known.has(entry.id) || ignored(entry.id)) continue
      const slash = entry.id.lastIndexOf('/')
      rows.push({
        id: entry.id,
        component: entry.id.slice(0, Math.max(0, slash)),
        name: entry.id.slice(slash + 1),
        store,
        status: 'missing',
        appliedAt: entry.appliedAt,
        durationMs: entry.durationMs,
        runId: entry.runId,
      })
    }
  }
  return rows
}

/** The plan that takes every store from its ledger to the target. Pure: no I/O, same input, same plan. */
export function createPlan(input: PlanInput): Plan {
  const rows = statusOf(input.nodes, input.ledgers, input)
  const leased = new Set(input.leased)
  const rowById = new Map(rows.map((row) => [row.id, row]))
  const byId = new Map(input.nodes.map((node) => [node.id, node]))
  const problems: Problem[] = []
  for (const row of rows) {
    if (row.status === 'drift') {
      const from = byId.get(row.id)?.package
      const source = from ? ` (package ${from})` : ''
      problems.push(problem('drift', row, `${row.file}${source} changed after it was applied to store "${row.store}"`))
    } else if (row.status === 'missing') {
      problems.push(problem('missing', row, `${row.id} is applied in store "${row.store}" but its file is gone`))
    } else if (row.status === 'dirty' && leased.has(row.store) && !(input.direction === 'up' && row.resumable)) {
      problems.push(
        problem(
          'dirty',
          row,
          `${row.id} (${row.file}) started in store "${row.store}" and never finished (run ${row.runId})`,
        ),
      )
    }
  }
  const applied = new Set(
    rows
      .filter((row) => row.status === 'applied' || row.status === 'drift' || (row.status === 'pending' && row.changed))
      .filter((row) => byId.has(row.id))
      .map((row) => row.id),
  )
  const steps = input.direction === 'up' ? planUp(input, rowById, leased, applied) : planDown(input, applied, problems)
  const stores = new Set<string>()
  for (const step of steps) {
    stores.add(step.store)
    for (const name of step.uses) stores.add(name)
  }
  return {
    direction: input.direction,
    target: input.target ?? null,
    steps,
    problems,
    stores: [...stores].sort(),
    lanes: planLanes(steps, input.nodes, input.direction),
  }
}

function planUp(
  input: PlanInput,
  rowById: Map<string, StatusRow>,
  leased: Set<string>,
  applied: ReadonlySet<string>,
): PlanStep[] {
  let wanted: Set<string> | undefined
  if (input.target !== undefined) {
    if (/^([^/]*@)?-\d+$/.test(input.target)) {
      throw new FluxError(
        'TARGET_INVALID',
        `"${input.target}" goes down from the current head: it is a target for \`down\``,
        {
          hint: `run \`flux down ${input.target}\``,
        },
      )
    }
    const target = resolveRevision(input.nodes, input.target, applied)
    // base, <component>@base, or a step below a root: nothing to apply (Alembic's `upgrade base`)
    if (target.kind === 'migration') wanted = ancestorsOf(input.nodes, target.id)
    else if (target.kind !== 'heads') wanted = new Set()
  }
  const steps: PlanStep[] = []
  for (const node of input.nodes) {
    if (wanted && !wanted.has(node.id)) continue
    const row = rowById.get(node.id)!
    let action: StepAction | undefined
    if (row.status === 'pending') action = row.changed ? 'reapply' : 'apply'
    else if (row.status === 'dirty') action = !leased.has(row.store) ? 'apply' : row.resumable ? 'resume' : undefined
    else if (row.status === 'applied' && node.repeatable === 'always') action = 'reapply'
    if (action) steps.push(toStep(node, action, input.stores))
  }
  return steps
}

function planDown(input: PlanInput, applied: ReadonlySet<string>, problems: Problem[]): PlanStep[] {
  const byId = new Map(input.nodes.map((node) => [node.id, node]))
  const chosen = chooseReverts({
    nodes: input.nodes,
    applied,
    ledgers: input.ledgers,
    target: input.target,
    steps: input.steps,
    resolve: (target) => resolveRevision(input.nodes, target, applied),
  })
  return chosen.map(({ id, reason }) => {
    const node = byId.get(id)!
    if (!node.reversible) {
      problems.push({
        kind: 'irreversible',
        id: node.id,
        store: node.store,
        file: node.file,
        message: `${node.file} has no down(), so ${node.id} cannot be reverted`,
      })
    }
    return { ...toStep(node, 'revert', input.stores), reason }
  })
}

/** The node and everything it depends on, transitively. */
export function ancestorsOf(nodes: readonly MigrationNode[], id: string): Set<string> {
  const byId = new Map(nodes.map((node) => [node.id, node]))
  const seen = new Set<string>()
  const stack = [id]
  while (stack.length > 0) {
    const current = stack.pop()!
    if (seen.has(current)) continue
    seen.add(current)
    const node = byId.get(current)
    if (node) stack.push(...node.parents, ...node.after)
  }
  return seen
}

function toStep(node: MigrationNode, action: StepAction, stores: PlanInput['stores']): PlanStep {
  return {
    id: node.id,
    component: node.component,
    name: node.name,
    store: node.store,
    uses: node.uses,
    file: node.file,
    checksum: node.checksum,
    action,
    transaction: node.transaction && stores[node.store]?.transactions === true,
  }
}

function problem(kind: ProblemKind, row: StatusRow, message: string): Problem {
  return { kind, id: row.id, store: row.store, ...(row.file === undefined ? {} : { file: row.file }), message }
}
