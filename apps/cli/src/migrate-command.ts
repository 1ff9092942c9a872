import {
  DEFAULT_CONCURRENCY,
  describeReason,
  FluxError,
  type FluxEvent,
  type LaneReport,
  migrate,
  type PlanStep,
  type StepResult,
  selectFleets,
} from '@flux/core'
import type { CommandInput } from './command.ts'
import { parseFleetOptions, runFleets } from './fleet-command.ts'
import {
  createRateMeter,
  etaOf,
  formatDuration,
  formatHolder,
  formatProgress,
  type ProgressFigures,
  percentOf,
  progressBar,
  progressLineDue,
} from './format.ts'
import type { Output } from './output.ts'
import { openProject } from './project.ts'
import { printError } from './run-command.ts'

/** The revision grammar, for the help of `up`, `down` and `plan` (see @flux/core's targets.ts). */
export const TARGET_FORMS = `Targets: an id (app/20261121093000_add-photos), a bare name or a unique prefix
(add-photos, app/2026112), heads, base, <component>@head, <component>@base, and relative
steps, as in Alembic: +2 / -1 from the one current head, app@+1 / app@-1 from a component's,
base+2 / app@base+1 from base,
app/20261121093000_add-photos+1 / …-2 from a migration. An ambiguous target (a prefix of
several ids, -1 over several heads, a step through a branch point) is refused (exit 2).`

/** `flux up` and `flux down`: run the plan, draw what happens, print the report. */
export async function runMigrate(
  input: CommandInput,
  options: { direction: 'up' | 'down'; target: string | undefined; steps: number | undefined },
): Promise<number> {
  const concurrency = parseConcurrency(input.values.concurrency)
  const fleetOptions = parseFleetOptions(input.values)
  const { output, json } = input
  // the stores connect while the migration files load; migrate() takes them from there.
  // A folder that no longer matches its flux.sum stops both directions before any file is imported.
  // (with --fleet, after the fleet and member are checked: an unknown one is refused before any store opens)
  const project = await openProject(input.configFile, { prefetch: fleetOptions.fleet === undefined, checkSums: true })
  // an unknown --fleet or --member is refused before anything runs
  const selected =
    options.direction === 'up' && fleetOptions.fleet !== undefined
      ? await selectFleets(project, fleetOptions)
      : undefined
  const reporter = createReporter(output, json, concurrency)
  // `up` runs every fleet's members after the rest (`down` over a fleet is `flux down --fleet`)
  const fleetsRun = options.direction === 'up' && Object.keys(project.fleets ?? {}).length > 0
  let report: Awaited<ReturnType<typeof migrate>>
  try {
    report = await migrate(project, { ...options, concurrency, signal: input.signal, onEvent: reporter.onEvent })
  } catch (error) {
    // migrate() throws only before the first step: a store down is said to have stopped everything
    if (FluxError.is(error) && error.code === 'STORE_UNAVAILABLE') {
      throw new FluxError(error.code, `${error.message}; nothing was ${pastOf(options.direction)} in any store`, {
        store: error.store,
        hint: error.hint,
        details: error.details,
        cause: error,
      })
    }
    // cancelled while it waited for a lease: nothing ran
    if (!(FluxError.is(error) && error.code === 'INTERRUPTED' && input.signal.aborted)) throw error
    if (json) output.printJson({ ok: false, cancelled: true, steps: [], error: error.toJSON() })
    output.error(output.paint.yellow(`cancelled: ${error.message}; nothing was ${pastOf(options.direction)}`))
    return cancelExitCode(input.signal)
  } finally {
    reporter.stop()
  }
  const cancelled = report.error?.code === 'INTERRUPTED' && input.signal.aborted
  if (json && (cancelled || !fleetsRun)) {
    output.printJson({
      ok: !report.error,
      ...(cancelled ? { cancelled: true } : {}),
      ...report,
      error: report.error?.toJSON(),
    })
  }
  if (cancelled) {
    output.line(cancelSummary(report.steps, options.direction))
    printLanes(output, report.lanes, options.direction)
    output.error(`  ${output.paint.dim('hint:')} run \`flux ${options.direction}\` again to go on from there`)
    return cancelExitCode(input.signal)
  }
  if (report.steps.length === 0 && !report.error) {
    output.line(
      options.direction === 'up'
        ? fleetsRun
          ? 'nothing to apply outside the fleets'
          : 'nothing to apply: every store is up to date'
        : 'nothing to revert',
    )
  } else {
    const done = report.steps.filter((step) => step.status === 'applied' || step.status === 'reverted').length
    const skipped = report.steps.filter((step) => step.status === 'skipped').length
    const failed = report.steps.filter((step) => step.status === 'failed').length
    output.line(
      `${done} ${pastOf(options.direction)}${skipped ? `, ${skipped} not run` : ''}${failed ? `, ${failed} failed` : ''}`,
    )
    if (report.error) printLanes(output, report.lanes, options.direction)
    // the signal came while the last step ran, and it finished: the run is complete
    if (input.signal.aborted && !report.error) output.error('the run had finished everything before it could stop')
  }
  if (fleetsRun && !report.error) {
    // then the fleets, member by member: nothing outside them depends on them
    const outcome = await runFleets(project, output, {
      ...options,
      ...fleetOptions,
      selected,
      concurrency,
      signal: input.signal,
      json,
    })
    if (json) {
      output.printJson({
        ok: !outcome.failure,
        ...report,
        fleets: outcome.reports,
        error: outcome.failure?.toJSON(),
      })
    }
    if (outcome.failure) {
      printError(output, outcome.failure)
      return outcome.failure.exitCode
    }
    if (input.signal.aborted) return cancelExitCode(input.signal)
    return 0
  }
  if (json && fleetsRun) {
    output.printJson({ ok: false, ...report, fleets: [], error: report.error?.toJSON() })
  }
  if (report.error) {
    printError(output, report.error)
    if (input.signal.aborted && report.error.code === 'MIGRATION_FAILED') {
      // the terminal sends Ctrl-C to its whole foreground process group
      output.error(
        `  ${output.paint.dim('note:')} it failed after the run was cancelled: a program it started got the Ctrl-C too; start such programs with \`detached: true\``,
      )
    }
    return report.error.exitCode
  }
  return 0
}

/** `cancelled: 2 applied, 1 rolled back (app/002_b), 3 not started (app/003_c, …)`. */
export function cancelSummary(steps: StepResult[], direction: 'up' | 'down'): string {
  const ids = (status: StepResult['status']) => steps.filter((step) => step.status === status).map((step) => step.id)
  const done = steps.filter((step) => step.status === 'applied' || step.status === 'reverted').length
  const list = (found: string[]) =>
    ` (${found.slice(0, 3).join(', ')}${found.length > 3 ? `, and ${found.length - 3} more` : ''})`
  const rolledBack = ids('cancelled')
  const notStarted = ids('skipped')
  return [
    `cancelled: ${done} ${pastOf(direction)}`,
    ...(rolledBack.length > 0 ? [`${rolledBack.length} rolled back${list(rolledBack)}`] : []),
    ...(notStarted.length > 0 ? [`${notStarted.length} not started${list(notStarted)}`] : []),
  ].join(', ')
}

/**
 * Where each lane stopped, when the run stopped early and had several:
 * `  lane pg: 3 applied, failed at app/004_x` / `  lane mongo: 5 applied, 2 not started (…)`.
 */
function printLanes(output: Output, lanes: LaneReport[], direction: 'up' | 'down'): void {
  if (lanes.length < 2) return
  const list = (found: string[]) =>
    ` (${found.slice(0, 2).join(', ')}${found.length > 2 ? `, and ${found.length - 2} more` : ''})`
  for (const lane of lanes) {
    const parts = [
      `${lane.done.length} ${pastOf(direction)}`,
      ...lane.failed.map((id) => output.paint.red(`failed at ${id}`)),
      ...(lane.cancelled.length > 0 ? [`${lane.cancelled.length} rolled back${list(lane.cancelled)}`] : []),
      ...(lane.notStarted.length > 0 ? [`${lane.notStarted.length} not started${list(lane.notStarted)}`] : []),
    ]
    output.line(`  lane ${lane.stores.join(' + ')}: ${parts.join(', ')}`)
  }
}

/** `--concurrency <n>`: how many steps run at once, in lanes (default {@link DEFAULT_CONCURRENCY}). */
export function parseConcurrency(value: string | boolean | undefined): number {
  if (value === undefined || typeof value === 'boolean') return DEFAULT_CONCURRENCY
  const concurrency = Number(value)
  if (!/^\d+$/.test(value) || !Number.isInteger(concurrency) || concurrency < 1) {
    throw new FluxError('USAGE', `--concurrency must be a whole number ≥ 1, got "${value}"`, {
      hint: '`--concurrency 1` runs one migration at a time, in the order of `flux plan`',
    })
  }
  return concurrency
}

/** The `--concurrency` option of `up` and `down`. */
export const CONCURRENCY_OPTION = {
  type: 'string',
  value: 'n',
  description: `migrations running at once, in lanes of stores nothing orders (default ${DEFAULT_CONCURRENCY}; 1: one at a time)`,
} as const

/** 130 after SIGINT, 143 after SIGTERM, as a shell reports a process those signals ended. */
function cancelExitCode(signal: AbortSignal): number {
  const reason = signal.reason as { details?: { signal?: string } } | undefined
  return reason?.details?.signal === 'SIGTERM' ? 143 : 130
}

function pastOf(direction: 'up' | 'down'): string {
  return direction === 'up' ? 'applied' : 'reverted'
}

export function parseSteps(value: string | boolean | undefined): number | undefined {
  if (value === undefined || typeof value === 'boolean') return undefined
  const steps = Number(value)
  if (!Number.isInteger(steps) || steps < 1) {
    throw new FluxError('USAGE', `--steps must be a whole number ≥ 1, got "${value}"`)
  }
  return steps
}

/**
 * Draws a run as it goes. On a terminal, a live block shows a line per step running (one per
 * lane), with a bar, the count, percentage, rate and eta of its `ctx.progress`; off a terminal,
 * progress is a plain line every 10% or 5 s; under `--json`, a JSON line on stderr at most once
 * a second (stdout keeps its one document). When lanes run side by side, each line starts with
 * the store of its step, so that they stay readable however they interleave.
 */
function createReporter(output: Output, json: boolean, concurrency: number) {
  const interactive = output.interactive && !json
  interface Running {
    step: PlanStep
    started: number
    progress?: ProgressFigures
    meter: ReturnType<typeof createRateMeter>
    lastLine: { at: number; done: number }
  }
  const running = new Map<string, Running>()
  let storeWidth = 0
  const storeOf = (step: PlanStep) =>
    storeWidth > 0 ? `${output.paint.dim(`${step.store.padEnd(storeWidth)} │`)} ` : ''
  const waitingSince = new Map<string, number>()
  const draw = () => {
    if (running.size === 0) return
    const lines = [...running.values()].map((current) => {
      const elapsed = formatDuration(Math.round(performance.now() - current.started))
      const figures = current.progress
      const progress = figures ? ` ${progressBar(figures)} ${formatProgress(figures)}` : ''
      return `${output.paint.cyan('›')} ${storeOf(current.step)}${verbOf(current.step)} ${current.step.id}${progress} ${output.paint.dim(elapsed)}`
    })
    output.live(lines)
  }
  const timer = interactive ? setInterval(draw, 100) : undefined
  timer?.unref()
  const onProgress = (step: PlanStep, done: number, total: number) => {
    const current = running.get(step.id)
    if (!current) return
    const now = performance.now()
    current.meter.sample(done, now)
    const figures: ProgressFigures = { done, total, rate: current.meter.rate(now) }
    current.progress = figures
    if (interactive) return
    const { lastLine } = current
    if (json) {
      if (now - lastLine.at < 1000 && done < total) return
      current.lastLine = { at: now, done }
      const eta = etaOf(figures)
      process.stderr.write(
        `${JSON.stringify({
          type: 'progress',
          id: step.id,
          done,
          total,
          percent: percentOf(figures),
          ...(figures.rate === undefined ? {} : { rate: Math.round(figures.rate * 100) / 100 }),
          ...(eta === undefined ? {} : { etaSeconds: Math.ceil(eta) }),
        })}\n`,
      )
      return
    }
    if (!progressLineDue(lastLine, figures, now)) return
    current.lastLine = { at: now, done }
    output.error(`${storeOf(step)}${step.id}: ${formatProgress(figures)}`)
  }
  const onEvent = (event: FluxEvent) => {
    switch (event.type) {
      case 'plan-ready':
        // lanes side by side: each line says its store
        if (concurrency > 1 && event.plan.lanes.length > 1) {
          storeWidth = Math.max(...event.plan.steps.map((step) => step.store.length))
        }
        break
      case 'lease-wait': {
        const first = !waitingSince.has(event.store)
        if (first) waitingSince.set(event.store, Date.now())
        const text = `waiting for store "${event.store}": leased by ${formatHolder(event.holder)}`
        if (interactive) output.live(output.paint.yellow(text))
        else if (first) output.error(text)
        break
      }
      case 'lease-takeover':
        output.error(
          output.paint.yellow(
            `lease of "${event.store}" was held by pid ${event.holder.pid} on this host, which is gone: taken over`,
          ),
        )
        break
      case 'lease-acquired':
        if (waitingSince.has(event.store)) output.live(undefined)
        break
      case 'step-start': {
        const now = performance.now()
        running.set(event.step.id, {
          step: event.step,
          started: now,
          meter: createRateMeter(),
          lastLine: { at: now, done: 0 },
        })
        if (interactive) draw()
        break
      }
      case 'step-progress':
        onProgress(event.step, event.done, event.total)
        break
      case 'step-log':
        output.line(`${storeOf(event.step)}  ${output.paint.dim(`${event.step.id}:`)} ${event.message}`)
        if (interactive) draw()
        break
      case 'step-end': {
        running.delete(event.step.id)
        output.live(undefined)
        const { result } = event
        const time = output.paint.dim(`(${formatDuration(result.durationMs)})`)
        const why = whyOf(event.step)
        const store = storeOf(event.step)
        if (result.status === 'failed')
          output.line(`${store}${output.paint.red('✗ failed')}   ${result.id} ${time}${why}`)
        else if (result.status === 'cancelled') {
          output.line(
            `${store}${output.paint.yellow('↶ cancelled')} ${result.id} ${time}: rolled back, nothing of it kept`,
          )
        } else output.line(`${store}${output.paint.green(`✓ ${result.status.padEnd(8)}`)} ${result.id} ${time}${why}`)
        if (interactive) draw()
        break
      }
      default:
        break
    }
  }
  return {
    onEvent,
    stop() {
      if (timer) clearInterval(timer)
      output.live(undefined)
    },
  }
}

/** Why a reverted step was in the plan, when it is worth saying: `  (depends on lib/001_x (after))`. */
export function whyOf(step: PlanStep): string {
  const reason = step.reason
  if (!reason || reason.kind === 'steps' || reason.kind === 'base') return ''
  return ` — ${describeReason(reason)}`
}

function verbOf(step: PlanStep): string {
  return { apply: 'applying', reapply: 're-applying', resume: 'resuming', revert: 'reverting' }[step.action]
}
