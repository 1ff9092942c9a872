import { describeReason, FluxError, type FluxEvent, migrate, type PlanStep } from '@flux/core'
import type { CommandInput } from './command.ts'
import { formatDuration, formatHolder } from './format.ts'
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
  const { output, json } = input
  // the stores connect while the migration files load; migrate() takes them from there.
  // A folder that no longer matches its flux.sum stops both directions before any file is imported.
  const project = await openProject(input.configFile, { prefetch: true, checkSums: true })
  const reporter = createReporter(output)
  let report: Awaited<ReturnType<typeof migrate>>
  try {
    report = await migrate(project, { ...options, signal: input.signal, onEvent: reporter.onEvent })
  } finally {
    reporter.stop()
  }
  if (json) output.printJson({ ok: !report.error, ...report, error: report.error?.toJSON() })
  if (report.steps.length === 0 && !report.error) {
    output.line(options.direction === 'up' ? 'nothing to apply: every store is up to date' : 'nothing to revert')
  } else {
    const done = report.steps.filter((step) => step.status === 'applied' || step.status === 'reverted').length
    const skipped = report.steps.filter((step) => step.status === 'skipped').length
    const verb = options.direction === 'up' ? 'applied' : 'reverted'
    output.line(`${done} ${verb}${skipped ? `, ${skipped} not run` : ''}${report.error ? ', 1 failed' : ''}`)
  }
  if (report.error) {
    printError(output, report.error)
    return report.error.exitCode
  }
  return 0
}

export function parseSteps(value: string | boolean | undefined): number | undefined {
  if (value === undefined || typeof value === 'boolean') return undefined
  const steps = Number(value)
  if (!Number.isInteger(steps) || steps < 1) {
    throw new FluxError('USAGE', `--steps must be a whole number ≥ 1, got "${value}"`)
  }
  return steps
}

function createReporter(output: Output) {
  let current: { step: PlanStep; started: number; progress?: { done: number; total: number } } | undefined
  let lastProgressLine = 0
  const waitingSince = new Map<string, number>()
  const draw = () => {
    if (!current) return
    const elapsed = formatDuration(Math.round(performance.now() - current.started))
    const progress = current.progress ? ` ${bar(current.progress.done, current.progress.total)}` : ''
    output.live(
      `${output.paint.cyan('›')} ${verbOf(current.step)} ${current.step.id}${progress} ${output.paint.dim(elapsed)}`,
    )
  }
  const timer = output.interactive ? setInterval(draw, 100) : undefined
  timer?.unref()
  const onEvent = (event: FluxEvent) => {
    switch (event.type) {
      case 'lease-wait': {
        const first = !waitingSince.has(event.store)
        if (first) waitingSince.set(event.store, Date.now())
        const text = `waiting for store "${event.store}": leased by ${formatHolder(event.holder)}`
        if (output.interactive) output.live(output.paint.yellow(text))
        else if (first) output.error(text)
        break
      }
      case 'lease-acquired':
        if (waitingSince.has(event.store)) output.live(undefined)
        break
      case 'step-start':
        current = { step: event.step, started: performance.now() }
        draw()
        break
      case 'step-progress':
        if (current) current.progress = { done: event.done, total: event.total }
        if (!output.interactive && (Date.now() - lastProgressLine >= 1000 || event.done >= event.total)) {
          lastProgressLine = Date.now()
          process.stderr.write(
            `${JSON.stringify({ type: 'progress', id: event.step.id, done: event.done, total: event.total })}\n`,
          )
        }
        break
      case 'step-log':
        output.line(`  ${output.paint.dim(`${event.step.id}:`)} ${event.message}`)
        break
      case 'step-end': {
        current = undefined
        output.live(undefined)
        const { result } = event
        const time = output.paint.dim(`(${formatDuration(result.durationMs)})`)
        const why = whyOf(event.step)
        if (result.status === 'failed') output.line(`${output.paint.red('✗ failed')}   ${result.id} ${time}${why}`)
        else output.line(`${output.paint.green(`✓ ${result.status.padEnd(8)}`)} ${result.id} ${time}${why}`)
        break
      }
      case 'run-interrupted':
        // a step a batch had begun may not have started: it is not the one running any more
        current = undefined
        output.live(undefined)
        break
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

function bar(done: number, total: number): string {
  const width = 20
  const ratio = total > 0 ? Math.min(1, done / total) : 0
  const filled = Math.round(ratio * width)
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`
}
