import type { LeaseHolder } from './adapter.ts'
import type { FluxError } from './errors.ts'
import type { Plan, PlanStep } from './plan.ts'

/** How one step ended. A run across stores cannot roll back as a whole: this is its record. */
export type StepStatus = 'applied' | 'reverted' | 'failed' | 'skipped'

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
