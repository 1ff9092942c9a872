import { randomUUID } from 'node:crypto'
import { createRequire } from 'node:module'
import { type BatchOutcome, batchesTransactions, type Lease, type LedgerEntry } from './adapter.ts'
import { FluxError, messageOf } from './errors.ts'
import type { FluxEventListener, StepResult } from './events.ts'
import { acquireLeases, releaseLeases } from './lease-set.ts'
import { createPlan, type Plan, type PlanInput, type PlanStep } from './plan.ts'
import { nodesOutsideFleets, type Project, storeInfoOf } from './project.ts'
import { DEFAULT_CONCURRENCY, runSideBySide, runUnits, stepDependencies } from './run/lanes.ts'
import { CHAIN_STOPPED, IN_TRANSACTION, runChain, runStep, type StepOptions, transactionalStep } from './step.ts'
import { closeStores, openStores, readLedgers, storeError } from './stores.ts'

export const FLUX_VERSION: string = createRequire(import.meta.url)('../package.json').version

export interface MigrateOptions {
  direction: 'up' | 'down'
  /** A migration id, a bare name where unique, `heads` (up) or `base` (down). */
  target?: string | undefined
  /** Down only: how many applied migrations to revert. */
  steps?: number | undefined
  /** Cancels the run between steps (SIGINT, SIGTERM); a running migration sees it as `ctx.signal`. */
  signal?: AbortSignal
  onEvent?: FluxEventListener
  runId?: string
  /**
   * How many steps (or batches of a store's steps) run at once, in lanes: steps whose stores
   * (home and `uses`) do not overlap and that no edge orders. `1` runs the plan in its order.
   */
  concurrency?: number | undefined
}

export interface RunReport {
  runId: string
  direction: 'up' | 'down'
  target: string | null
  /** The plan that was run (computed under the leases). */
  plan: Plan
  steps: StepResult[]
  /** Why the run stopped early: a failed step, a lost lease, an interruption. */
  error?: FluxError
  /** Each lane of the plan (`Plan.lanes`) and how far it got. */
  lanes: LaneReport[]
}

export interface LaneReport {
  stores: string[]
  /** `done`: all its steps ran; `failed`: one failed; `stopped`: the run stopped before the rest (a failure elsewhere, a cancel). */
  state: 'done' | 'failed' | 'stopped'
  /** Ids applied (up) or reverted (down). */
  done: string[]
  failed: string[]
  /** Rolled back on a cancel. */
  cancelled: string[]
  notStarted: string[]
}

/**
 * Takes every store to the target: read the ledgers, plan, lease the stores the plan touches
 * (sorted), read their ledgers again under the leases and plan again (another runner may
 * have done the work meanwhile), run the steps, release. Integrity problems and bad targets
 * throw before anything runs; a failing step ends the run and is in the report.
 */
export async function migrate(project: Project, options: MigrateOptions): Promise<RunReport> {
  const concurrency = options.concurrency
  if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1)) {
    throw new FluxError('USAGE', `concurrency must be a whole number ≥ 1, got ${concurrency}`)
  }
  const runId = options.runId ?? randomUUID()
  const emit = options.onEvent ?? (() => {})
  const storeNames = Object.keys(project.adapters).sort()
  let stores = project.stores
  const input = (ledgers: PlanInput['ledgers'], leased: string[]): PlanInput => ({
    nodes: nodesOutsideFleets(project),
    ledgers,
    stores,
    direction: options.direction,
    target: options.target,
    steps: options.steps,
    leased,
    retired: project.retired,
    ignoredComponents: project.ignoredComponents,
  })

  // opened, and the ledgers read, while the project loaded (`prefetch`): taken once
  const prefetched = project.prefetched
  project.prefetched = undefined
  if (!prefetched) await openStores(project.adapters, storeNames)
  try {
    let ledgers = prefetched ? await prefetched : await readLedgers(project.adapters, storeNames)
    stores = storeInfoOf(project.adapters)
    for (let attempt = 0; ; attempt++) {
      const draft = createPlan(input(ledgers, []))
      throwIfProblems(draft)
      if (draft.steps.length === 0)
        return { runId, direction: options.direction, target: draft.target, plan: draft, steps: [], lanes: [] }
      const leases = await acquireLeases(project, draft.stores, runId, { signal: options.signal, onEvent: emit })
      try {
        ledgers = { ...ledgers, ...(await readLedgers(project.adapters, draft.stores)) }
        const plan = createPlan(input(ledgers, draft.stores))
        if (!plan.stores.every((name) => draft.stores.includes(name)) && attempt < 3) continue
        throwIfProblems(plan)
        emit({ type: 'plan-ready', plan })
        return await runSteps(project, plan, leases, runId, ledgers, options, emit)
      } finally {
        await releaseLeases(leases, emit)
      }
    }
  } finally {
    await closeStores(project.adapters, storeNames)
  }
}

async function runSteps(
  project: Project,
  plan: Plan,
  leases: Map<string, Lease>,
  runId: string,
  ledgers: PlanInput['ledgers'],
  options: MigrateOptions,
  emit: FluxEventListener,
): Promise<RunReport> {
  const report: RunReport = { runId, direction: plan.direction, target: plan.target, plan, steps: [], lanes: [] }
  const lost = [...leases.values()].map((lease) => lease.lost)
  // A cancel (SIGINT, SIGTERM) reaches only migrations in a transaction, whose stopping rolls
  // back; elsewhere stopping midway would leave part of a migration in the store, so the one
  // in flight finishes (a second signal quits at once). A lost lease reaches every migration.
  const leaseLost = AbortSignal.any(lost)
  const signal = AbortSignal.any(options.signal ? [options.signal, ...lost] : lost)
  // each step's entry before the run, found in constant time (the first where ids repeat)
  const entries = new Map<string, LedgerEntry>()
  for (const store of Object.keys(ledgers)) {
    for (const entry of ledgers[store]!) {
      const key = `${store}\0${entry.id}`
      if (!entries.has(key)) entries.set(key, entry)
    }
  }
  const stepOptions = (step: PlanStep): StepOptions => ({
    project,
    step,
    runId,
    previous: entries.get(`${step.store}\0${step.id}`),
    signal: step.transaction ? signal : leaseLost,
    emit,
    fluxVersion: FLUX_VERSION,
  })
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY
  const waits = stepDependencies(plan.steps, project.graph.nodes, plan.direction)
  const units = runUnits(plan.steps, waits, (index) => unitKind(project, plan.steps[index]!), {
    adjacent: concurrency === 1,
    limit: (kind) => UNIT_LIMITS[kind]!,
  })
  const results = new Map<string, StepResult>()
  const record = (result: StepResult) => {
    results.set(result.id, result)
    report.steps.push(result)
  }
  // a failure or a cancel stops new work in every lane; the steps running in others finish
  const mayStart = () => {
    if (report.error) return false
    const stop = stopReason(options.signal, leases)
    if (!stop) return true
    report.error = stop
    emit({ type: 'run-interrupted', reason: stop })
    return false
  }
  /** Whether a chain may start its next step: as `mayStart`, but leaving the run's error to the chain's outcome. */
  const canGoOn = () => !report.error && !stopReason(options.signal, leases)
  const runUnit = async (number: number) => {
    const indices = units[number]!.steps
    const batch = indices.map((index) => plan.steps[index]!)
    const progress = batchProgress(batch, indices, plan.steps.length, record, emit)
    progress.begin(0)
    const onCommit = (committed: number) => progress.end(committed)
    const outcome =
      units[number]!.kind === 'chain'
        ? await runChainUnit(batch, batch.map(stepOptions), canGoOn, mayStart, onCommit)
        : batch.length > 1
          ? await runBatch(project, batch, batch.map(stepOptions), signal, onCommit)
          : await runOne(batch[0]!, stepOptions(batch[0]!))
    if (outcome.failure === INTERRUPTED) {
      // stopped by a signal or a lost lease before the step began: it is not run, as when between steps
      progress.end(outcome.committed)
    } else if (outcome.failure && isCancel(outcome.failure, batch[outcome.committed]!, options.signal)) {
      // stopped on ctx.signal in its transaction: rolled back, not a failure of the migration
      progress.end(outcome.committed, outcome.failure, 'cancelled')
      if (!report.error) {
        report.error = stopReason(options.signal, leases)
        emit({ type: 'run-interrupted', reason: report.error! })
      }
    } else {
      progress.end(outcome.committed, outcome.failure)
      // the first failure is the run's; a later one, in another lane, is in its step's result
      if (outcome.failure && (!report.error || report.error.code === 'INTERRUPTED')) report.error = outcome.failure
    }
  }
  await runSideBySide(units, concurrency, mayStart, runUnit)
  if (!report.error && results.size < plan.steps.length) report.error = stopReason(options.signal, leases)
  // in plan order, each step once: those never started are skipped
  report.steps = plan.steps.map(
    (step) =>
      results.get(step.id) ?? {
        id: step.id,
        store: step.store,
        action: step.action,
        status: 'skipped',
        durationMs: 0,
      },
  )
  report.lanes = laneReports(plan, report.steps)
  return report
}

/** What each lane did: its steps done, failed, rolled back on a cancel, not started. */
function laneReports(plan: Plan, steps: StepResult[]): LaneReport[] {
  const byId = new Map(steps.map((result) => [result.id, result]))
  return plan.lanes.map((lane) => {
    const of = (...statuses: StepResult['status'][]) =>
      lane.steps.filter((id) => statuses.includes(byId.get(id)!.status))
    const failed = of('failed')
    const notStarted = of('skipped')
    const cancelled = of('cancelled')
    return {
      stores: lane.stores,
      state: failed.length > 0 ? 'failed' : notStarted.length > 0 || cancelled.length > 0 ? 'stopped' : 'done',
      done: of('applied', 'reverted'),
      failed,
      cancelled,
      notStarted,
    }
  })
}

/**
 * Reports the steps of a batch (`step-start`, `step-end`, the report's results) as the store
 * says they committed; those told of together share the time since the last telling. The
 * first step not known to be committed is the one shown as running.
 */
function batchProgress(
  batch: PlanStep[],
  indices: number[],
  total: number,
  record: (result: StepResult) => void,
  emit: FluxEventListener,
) {
  let reported = 0
  let started: number | undefined
  let since = performance.now()
  const begin = (offset: number) => {
    if (started === offset) return
    started = offset
    emit({ type: 'step-start', step: batch[offset]!, index: indices[offset]!, total })
  }
  const end = (committed: number, failure?: FluxError, failed: 'failed' | 'cancelled' = 'failed') => {
    // a store may tell of commits late, after the batch ended: they were reported then
    if (committed < reported || (committed === reported && !failure && started === committed)) return
    const now = performance.now()
    const durationMs = Math.round((now - since) / Math.max(1, committed - reported + (failure ? 1 : 0)))
    since = now
    for (; reported < committed + (failure ? 1 : 0); reported++) {
      const member = batch[reported]!
      const isFailed = reported === committed
      const result: StepResult = {
        id: member.id,
        store: member.store,
        action: member.action,
        status: isFailed ? failed : member.action === 'revert' ? 'reverted' : 'applied',
        durationMs,
      }
      if (isFailed && failed === 'failed') result.error = { code: failure!.code, message: failure!.message }
      begin(reported)
      record(result)
      emit({ type: 'step-end', step: member, result })
    }
    if (committed < batch.length && !failure) begin(committed)
  }
  return { begin, end }
}

/** How many steps committed, from the first, and the error of the one after them, if it failed. */
interface Outcome {
  committed: number
  failure?: FluxError
}

async function runOne(step: PlanStep, options: StepOptions): Promise<Outcome> {
  try {
    await runStep(options)
    return { committed: 1 }
  } catch (error) {
    return { committed: 0, failure: asStepError(step, error) }
  }
}

/** Runs steps without a transaction of one store back to back (see {@link runChain}). */
async function runChainUnit(
  steps: PlanStep[],
  options: StepOptions[],
  canGoOn: () => boolean,
  mayStart: () => boolean,
  onCommit: (committed: number) => void,
): Promise<Outcome> {
  // the step that ran last is recorded before the stop is told: when its record is refused (its
  // lease taken over), that refusal, which names the new holder, is the run's error
  const outcome = await runChain(options, canGoOn, onCommit)
  if (outcome.failure === undefined) return { committed: outcome.committed }
  if (outcome.failure === CHAIN_STOPPED) {
    mayStart() // says why the run stops (a cancel, a lost lease), as between units
    return { committed: outcome.committed, failure: INTERRUPTED }
  }
  return { committed: outcome.committed, failure: asStepError(steps[outcome.committed]!, outcome.failure) }
}

/** Said of a step of a batch that did not begin because the run was cancelled. */
const INTERRUPTED = new FluxError('INTERRUPTED', 'interrupted before the step began')

/**
 * Runs the steps in {@link Adapter.transactionBatch} calls of their store. Each step checks
 * `signal` as it begins, so a cancelled run stops where it would between steps (what the
 * store was sent by then still runs).
 */
async function runBatch(
  project: Project,
  steps: PlanStep[],
  options: StepOptions[],
  signal: AbortSignal,
  onCommit: (committed: number) => void,
): Promise<Outcome> {
  const store = steps[0]!.store
  const adapter = project.adapters[store]!
  const parts = options.map(transactionalStep)
  let outcome: BatchOutcome
  try {
    outcome = await adapter.transactionBatch!(
      parts.map((part) => (client, ledger) => {
        if (signal.aborted) throw INTERRUPTED
        return part.work(client, ledger)
      }),
      { onCommit, signal },
    )
  } catch (error) {
    outcome = { committed: 0, failed: { index: 0, error } }
  }
  if (!outcome.failed) return { committed: steps.length }
  const { index, error } = outcome.failed
  if (error === INTERRUPTED || (signal.aborted && error === signal.reason)) {
    return { committed: index, failure: INTERRUPTED }
  }
  const failure = storeError(store, adapter, IN_TRANSACTION, parts[index]!.failure(error))
  return { committed: index, failure: asStepError(steps[index]!, failure) }
}

/**
 * Steps in one unit at most: handed to a store in one batch, or run as one chain. Chains are
 * short so that lanes beyond `--concurrency` take turns; a chain's end costs one ledger write.
 */
const UNIT_LIMITS: Record<string, number> = { batch: 1000, chain: 32 }

/**
 * How a step can run with the steps of its store next to it: `chain` without a transaction
 * (its ledger writes joined with its neighbours', see {@link runChain}); `batch` in a
 * transaction, with its statements known before it runs (`sql`), touching no other store, on
 * an adapter that batches; else alone.
 */
function unitKind(project: Project, step: PlanStep): 'chain' | 'batch' | undefined {
  if (!step.transaction) return 'chain'
  if (step.action === 'resume' || !batchesTransactions(project.adapters[step.store]!)) return undefined
  const definition = project.graph.definitions.get(step.id)!
  const known = step.action === 'revert' ? definition.sql?.down : definition.sql?.up
  return known !== undefined && (definition.uses?.length ?? 0) === 0 ? 'batch' : undefined
}

function asStepError(step: PlanStep, error: unknown): FluxError {
  return FluxError.is(error)
    ? error
    : new FluxError('STORE_ERROR', `${step.id}: ${messageOf(error)}`, { migration: step.id, cause: error })
}

/**
 * A step in a transaction that ended because the run was cancelled: its error is (or was
 * caused by) the cancel's reason, or an abort, while the cancel signal is aborted.
 */
function isCancel(error: FluxError, step: PlanStep, signal: AbortSignal | undefined): boolean {
  if (!step.transaction || !signal?.aborted) return false
  for (let current: unknown = error; current !== undefined; current = (current as Error | undefined)?.cause) {
    if (current === signal.reason) return true
    if (!(current instanceof Error)) return false
    if (current.name === 'AbortError' || (FluxError.is(current) && current.code === 'INTERRUPTED')) return true
  }
  return false
}

function stopReason(signal: AbortSignal | undefined, leases: Map<string, Lease>): FluxError | undefined {
  for (const lease of leases.values()) {
    if (lease.lost.aborted) return lease.lost.reason as FluxError
  }
  if (signal?.aborted) {
    return new FluxError('INTERRUPTED', 'interrupted: stopped before the next step', {
      hint: 'run `flux status` to see what was applied, then `flux up` to go on',
    })
  }
  return undefined
}

function throwIfProblems(plan: Plan): void {
  if (plan.problems.length === 0) return
  const first = plan.problems[0]!
  const irreversible = plan.problems.every((problem) => problem.kind === 'irreversible')
  const code = irreversible
    ? 'IRREVERSIBLE'
    : first.kind === 'drift'
      ? 'DRIFT'
      : first.kind === 'missing'
        ? 'MISSING'
        : first.kind === 'dirty'
          ? 'DIRTY'
          : 'INTEGRITY'
  const hints: Record<string, string> = {
    drift:
      'restore the applied file and the local modules it imports (git checkout) and put the change in a new migration; or, if the edit is intended, `flux accept <id>`',
    missing: 'restore the deleted migration file; applied migrations must stay',
    dirty: 'find out what happened, then `flux resolve <id> --applied` or `--rolled-back`',
    irreversible: 'write a down() for it, or choose a target that does not need it reverted',
  }
  throw new FluxError(code, plan.problems.map((problem) => problem.message).join('\n'), {
    migration: first.id,
    store: first.store,
    file: first.file,
    hint: hints[first.kind],
    details: { problems: plan.problems },
  })
}
