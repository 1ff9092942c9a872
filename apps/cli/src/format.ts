import type { LeaseHolder, MigrationStatus, PlanStep, StatusRow } from '@flux/core'
import type { Output } from './output.ts'

const STATUS_COLOR: Record<MigrationStatus, keyof Output['paint']> = {
  applied: 'green',
  pending: 'cyan',
  dirty: 'red',
  drift: 'red',
  missing: 'red',
  retired: 'dim',
  unknown: 'yellow',
}

export function statusLabel(output: Output, row: StatusRow): string {
  const label = row.changed ? 'changed' : row.status
  return output.paint[STATUS_COLOR[row.status]](label.padEnd(8))
}

export function stepVerb(step: PlanStep): string {
  return { apply: 'apply', reapply: 're-apply', resume: 'resume', revert: 'revert' }[step.action]
}

export function formatHolder(holder: LeaseHolder | undefined): string {
  if (!holder) return 'another runner'
  return `pid ${holder.pid} on ${holder.host}, since ${holder.since}`
}

/** `1 applied, 2 pending` from a list of statuses. */
export function countBy(statuses: string[]): string {
  const counts = new Map<string, number>()
  for (const status of statuses) counts.set(status, (counts.get(status) ?? 0) + 1)
  return [...counts].map(([status, count]) => `${count} ${status}`).join(', ')
}

export function formatDuration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`
}

/** `40,000`: a count with thousands separators, the same on every machine. */
export function formatCount(count: number): string {
  // grouped by hand: the first toLocaleString() of a process loads ICU's data, about 25 ms
  return String(Math.round(count)).replace(/\B(?=(\d{3})+$)/g, ',')
}

/** `8,100/s`, `12/s`, `2.5/s`, `0.25/s`: items per second, with the digits that matter. */
export function formatRate(perSecond: number): string {
  if (perSecond >= 100) return `${formatCount(perSecond)}/s`
  if (perSecond >= 10) return `${perSecond.toFixed(0)}/s`
  if (perSecond >= 1) return `${Number(perSecond.toFixed(1))}/s`
  return `${Number(perSecond.toFixed(2))}/s`
}

/** `7s`, `2m05s`, `1h02m`: the time left, rounded up to a whole second. */
export function formatEta(seconds: number): string {
  const whole = Math.max(0, Math.ceil(seconds))
  if (whole < 60) return `${whole}s`
  if (whole < 3600) return `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, '0')}s`
  return `${Math.floor(whole / 3600)}h${String(Math.floor((whole % 3600) / 60)).padStart(2, '0')}m`
}

export interface ProgressFigures {
  done: number
  total: number
  /** Items per second lately; `undefined` until it can be told. */
  rate: number | undefined
}

/** Whole percent done, 0 to 100 (a `done` past `total` is 100). */
export function percentOf({ done, total }: Pick<ProgressFigures, 'done' | 'total'>): number {
  if (total <= 0) return done > 0 ? 100 : 0
  return Math.min(100, Math.floor((done / total) * 100))
}

/** Seconds left at the current rate; `undefined` while the rate is unknown or nil. */
export function etaOf({ done, total, rate }: ProgressFigures): number | undefined {
  if (rate === undefined || rate <= 0) return undefined
  return Math.max(0, total - done) / rate
}

/** `40,000/100,000 (40%) 8,100/s, eta 7s`: what a progress line says, rate and eta once known. */
export function formatProgress(figures: ProgressFigures): string {
  const counts = `${formatCount(figures.done)}/${formatCount(figures.total)} (${percentOf(figures)}%)`
  if (figures.rate === undefined) return counts
  const eta = etaOf(figures)
  const left = figures.done >= figures.total ? '' : eta === undefined ? '' : `, eta ${formatEta(eta)}`
  return `${counts} ${formatRate(figures.rate)}${left}`
}

/** `██████░░░░░░░░░░░░░░`: a bar `width` cells wide. */
export function progressBar(figures: Pick<ProgressFigures, 'done' | 'total'>, width = 20): string {
  const filled = Math.round((percentOf(figures) / 100) * width)
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`
}

/**
 * The rate of a count that grows, over the last {@link RATE_WINDOW_MS}: fed a sample at each
 * report, it says items per second once it has seen half a second of them.
 */
export function createRateMeter() {
  let samples: { at: number; done: number }[] = []
  return {
    sample(done: number, at: number): void {
      const last = samples.at(-1)
      if (last && done < last.done) samples = [] // set() back to a lower value: start over
      if (last && at - last.at < 100 && samples.length > 1) last.done = done
      else samples.push({ at, done })
      while (samples.length > 2 && at - samples[1]!.at >= RATE_WINDOW_MS) samples.shift()
    },
    rate(at: number): number | undefined {
      const first = samples[0]
      const last = samples.at(-1)
      if (!first || !last || at - first.at < 500) return undefined
      return ((last.done - first.done) * 1000) / (at - first.at)
    },
  }
}

/** How far back the rate of a progress looks. */
export const RATE_WINDOW_MS = 10_000

/**
 * Whether a plain progress line (off a terminal) is due: at the end, else every 10% (no more
 * than one a second) or every 5 s. `last` is the last line's time and count, or the step's start.
 */
export function progressLineDue(
  last: { at: number; done: number },
  figures: Pick<ProgressFigures, 'done' | 'total'>,
  at: number,
): boolean {
  if (figures.total > 0 && figures.done >= figures.total) return last.done < figures.total
  const since = at - last.at
  const tenth = (done: number) => Math.floor(percentOf({ done, total: figures.total }) / 10)
  return since >= 5_000 || (since >= 1_000 && tenth(figures.done) > tenth(last.done))
}
