import type { LeaseHolder, MigrationStatus, PlanStep, StatusRow } from '@flux/core'
import type { Output } from './output.ts'

const STATUS_COLOR: Record<MigrationStatus, keyof Output['paint']> = {
  applied: 'green',
  pending: 'cyan',
  dirty: 'red',
  drift: 'red',
  missing: 'red',
  retired: 'dim',
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
