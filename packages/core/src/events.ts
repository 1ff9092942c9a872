import type { LeaseHolder } from './adapter.ts'
import type { FluxError } from './errors.ts'
import type { Plan, PlanStep } from './plan.ts'

/**
 * How one step ended. A run across stores cannot roll back as a whole: this is its record.
 * `skipped`: not started (an earlier step failed, or the run was cancelled before it).
 * `cancelled`: the run was cancelled (SIGINT, SIGTERM) while it ran in a transaction, and the
 * migration stopped on `ctx.signal`: its transaction rolled back, nothing of it is kept.
 */
export type StepStatus = 'applied' | 'reverted' | 'failed' | 'skipped' | 'cancelled'

export interface StepResult {
  id: string
  store: string
  action: PlanStep['action']
  status: StepStatus
  /** Wall time of the step; steps sent to a store in one batch share the batch's evenly. */
  durationMs: number
  error?: { code: string; message: string }
}

/** Everything a run reports while it goes, as a union on `type` (noun-action names). */
export type FluxEvent =
  | { type: 'plan-ready'; plan: Plan }
  | { type: 'lease-wait'; store: string; holder: LeaseHolder | undefined }
  /**
   * The lease was held by a runner of this host whose process is gone (SIGKILL, a crash):
   * taken over at once rather than after its ttl. Followed by `lease-acquired`.
   */
  | { type: 'lease-takeover'; store: string; holder: LeaseHolder }
  | { type: 'lease-acquired'; store: string }
  | { type: 'lease-released'; store: string }
  /**
   * `with`: how many steps after this one were sent to the store with it, in one batch; they
   * are reported (a `step-start` and a `step-end` each) once the batch is back.
   */
  | { type: 'step-start'; step: PlanStep; index: number; total: number; with?: number }
  | { type: 'step-progress'; step: PlanStep; done: number; total: number }
  | { type: 'step-log'; step: PlanStep; message: string }
  | { type: 'step-end'; step: PlanStep; result: StepResult }
  | { type: 'run-interrupted'; reason: FluxError }

export type FluxEventListener = (event: FluxEvent) => void
