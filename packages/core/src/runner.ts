import { randomUUID } from 'node:crypto'
import { createRequire } from 'node:module'
import type { Lease, LedgerEntry } from './adapter.ts'
import { FluxError, messageOf } from './errors.ts'
import type { FluxEventListener, StepResult } from './events.ts'
import { acquireLeases, releaseLeases } from './lease-set.ts'
import { createPlan, type Plan, type PlanInput } from './plan.ts'
import { type Project, storeInfoOf } from './project.ts'
import { runStep } from './step.ts'
import { closeStores, openStores, readLedgers } from './stores.ts'

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
}

/**
 * Takes every store to the target: read the ledgers, plan, lease the stores the plan touches
 * (sorted), read their ledgers again under the leases and plan again (another runner may
 * have done the work meanwhile), run the steps, release. Integrity problems and bad targets
 * throw before anything runs; a failing step ends the run and is in the report.
 */
export async function migrate(project: Project, options: MigrateOptions): Promise<RunReport> {
  const runId = options.runId ?? randomUUID()
  const emit = options.onEvent ?? (() => {})
  const storeNames = Object.keys(project.adapters).sort()
  let stores = project.stores
  const input = (ledgers: PlanInput['ledgers'], leased: string[]): PlanInput => ({
    nodes: project.graph.nodes,
    ledgers,
    stores,
    direction: options.direction,
    target: options.target,
    steps: options.steps,
    leased,
    retired: project.retired,
    ignoredComponents: project.ignoredComponents,
  })

  await openStores(project.adapters, storeNames)
  try {
    stores = storeInfoOf(project.adapters)
    let ledgers = await readLedgers(project.adapters, storeNames)
    for (let attempt = 0; ; attempt++) {
      const draft = createPlan(input(ledgers, []))
      throwIfProblems(draft)
      if (draft.steps.length === 0)
        return { runId, direction: options.direction, target: draft.target, plan: draft, steps: [] }
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
  const report: RunReport = { runId, direction: plan.direction, target: plan.target, plan, steps: [] }
  const lost = [...leases.values()].map((lease) => lease.lost)
  const signal = AbortSignal.any(options.signal ? [options.signal, ...lost] : lost)
  // each step's entry before the run, found in constant time (the first where ids repeat)
  const entries = new Map<string, LedgerEntry>()
  for (const store of Object.keys(ledgers)) {
    for (const entry of ledgers[store]!) {
      const key = `${store}\0${entry.id}`
      if (!entries.has(key)) entries.set(key, entry)
    }
  }
  for (const [index, step] of plan.steps.entries()) {
    if (report.error) {
      report.steps.push({ id: step.id, store: step.store, action: step.action, status: 'skipped', durationMs: 0 })
      continue
    }
    const stop = stopReason(options.signal, leases)
    if (stop) {
      report.error = stop
      emit({ type: 'run-interrupted', reason: stop })
      report.steps.push({ id: step.id, store: step.store, action: step.action, status: 'skipped', durationMs: 0 })
      continue
    }
    emit({ type: 'step-start', step, index, total: plan.steps.length })
    const previous = entries.get(`${step.store}\0${step.id}`)
    const started = performance.now()
    let result: StepResult
    try {
      await runStep({ project, step, runId, previous, signal, emit, fluxVersion: FLUX_VERSION })
      result = {
        id: step.id,
        store: step.store,
        action: step.action,
        status: step.action === 'revert' ? 'reverted' : 'applied',
        durationMs: Math.round(performance.now() - started),
      }
    } catch (error) {
      const failure = FluxError.is(error)
        ? error
        : new FluxError('STORE_ERROR', `${step.id}: ${messageOf(error)}`, { migration: step.id, cause: error })
      report.error = failure
      result = {
        id: step.id,
        store: step.store,
        action: step.action,
        status: 'failed',
        durationMs: Math.round(performance.now() - started),
        error: { code: failure.code, message: failure.message },
      }
    }
    report.steps.push(result)
    emit({ type: 'step-end', step, result })
  }
  return report
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
      'restore the applied file and the local modules it imports (git checkout); put the change in a new migration',
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
