import {
  type FleetProgress,
  type FleetReport,
  type FleetSelection,
  FluxError,
  migrateFleets,
  type Project,
} from '@flux/core'
import { createRateMeter, formatCount, formatProgress, progressBar, progressLineDue } from './format.ts'
import type { Output } from './output.ts'

/** `--fleet`, `--member`, `--keep-going`: for `up` and `down`. */
export const FLEET_OPTIONS = {
  fleet: { type: 'string', value: 'name', description: "only this fleet's members (a store made with fleet())" },
  member: { type: 'string', value: 'name', description: 'only this member of --fleet' },
  'keep-going': { type: 'boolean', description: "a member's failure does not stop the other members" },
} as const

/** `--fleet` and `--member` as given, checked: a member belongs to a fleet. */
export function parseFleetOptions(values: Record<string, string | boolean | undefined>): {
  fleet: string | undefined
  member: string | undefined
  keepGoing: boolean
} {
  const fleet = typeof values.fleet === 'string' ? values.fleet : undefined
  const member = typeof values.member === 'string' ? values.member : undefined
  if (member !== undefined && fleet === undefined) {
    throw new FluxError('USAGE', '--member needs --fleet: name the fleet the member belongs to', {
      hint: 'e.g. `flux up --fleet tenants --member acme`',
    })
  }
  return { fleet, member, keepGoing: values['keep-going'] === true }
}

/** How a fleet run went, for the exit code and `--json`. */
export interface FleetOutcome {
  reports: FleetReport[]
  /** The first member's failure, whose exit code the command takes. */
  failure?: FluxError
}

/**
 * Runs the fleets' migrations in their members (after `migrate()` ran the rest), drawing one
 * progress line per fleet, then a summary per fleet and a line per failed member.
 */
export async function runFleets(
  project: Project,
  output: Output,
  options: {
    direction: 'up' | 'down'
    target: string | undefined
    steps: number | undefined
    concurrency: number | undefined
    fleet: string | undefined
    member: string | undefined
    keepGoing: boolean
    signal: AbortSignal
    json: boolean
    /** From `selectFleets()`, called before the rest of the graph ran. */
    selected?: FleetSelection[] | undefined
  },
): Promise<FleetOutcome> {
  const meters = new Map<string, { rate: ReturnType<typeof createRateMeter>; last: { at: number; done: number } }>()
  const onProgress = (progress: FleetProgress) => {
    if (options.json) return
    const at = Date.now()
    let meter = meters.get(progress.fleet)
    if (!meter) {
      meter = { rate: createRateMeter(), last: { at: progress.startedAt, done: 0 } }
      meters.set(progress.fleet, meter)
    }
    const settled = progress.done + progress.failed
    meter.rate.sample(settled, at)
    const figures = { done: settled, total: progress.total, rate: meter.rate.rate(at) }
    const tail = [
      ...(progress.failed > 0 ? [output.paint.red(`${progress.failed} failed`)] : []),
      ...(progress.busy > 0 ? [`${progress.busy} leased by another runner`] : []),
    ]
    const text = `fleet ${progress.fleet}: ${formatProgress(figures)} members${tail.length ? `, ${tail.join(', ')}` : ''}`
    if (progress.last?.state === 'failed') {
      output.live(undefined)
      output.error(
        `${output.paint.red('✗')} fleet ${progress.fleet}, member ${progress.last.member}: ${progress.last.error?.message ?? 'failed'}`,
      )
    }
    if (output.interactive) output.live(`${progressBar(figures)} ${text}`)
    else if (progressLineDue(meter.last, figures, at)) {
      meter.last = { at, done: settled }
      output.line(text)
    }
  }
  let reports: FleetReport[]
  try {
    reports = await migrateFleets(project, {
      direction: options.direction,
      target: options.target,
      steps: options.steps,
      concurrency: options.concurrency,
      keepGoing: options.keepGoing,
      fleet: options.fleet,
      member: options.member,
      selected: options.selected,
      signal: options.signal,
      onProgress,
    })
  } finally {
    output.live(undefined)
  }
  let failure: FluxError | undefined
  for (const report of reports) {
    const count = (state: string) => report.members.filter((member) => member.state === state).length
    const steps = report.members.reduce((sum, member) => sum + member.steps.length, 0)
    const [done, failed, notStarted] = [count('done'), count('failed'), count('not-started')]
    if (!options.json) {
      output.line(
        `fleet ${report.fleet}: ${formatCount(report.members.length)} members, ${formatCount(done)} at their target (${formatCount(steps)} migrations ${options.direction === 'up' ? 'applied' : 'reverted'})${failed ? `, ${failed} failed` : ''}${notStarted ? `, ${notStarted} not started` : ''}`,
      )
    }
    if (report.boardError && !options.json) output.error(`warning: fleet ${report.fleet}: ${report.boardError}`)
    for (const member of report.members.filter((each) => each.state === 'failed')) {
      if (!options.json) output.error(`  ${member.member}: ${member.error?.message ?? 'failed'}`)
      failure ??= new FluxError(
        (member.error?.code as FluxError['code'] | undefined) ?? 'MIGRATION_FAILED',
        `fleet ${report.fleet}, member ${member.member}: ${member.error?.message ?? 'failed'}`,
        {
          store: report.fleet,
          hint:
            failed > 1 || notStarted > 0
              ? `${failed} members failed${notStarted ? ` and ${notStarted} were not started` : ''}: fix the cause and run it again (--keep-going goes on past a failed member)`
              : member.error?.hint,
        },
      )
    }
  }
  return { reports, ...(failure ? { failure } : {}) }
}
