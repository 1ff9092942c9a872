import type { Ledger, LedgerChange, LedgerEntry } from './adapter.ts'
import { FluxError, messageOf } from './errors.ts'
import type { FluxEventListener } from './events.ts'
import type { MigrationContext } from './migration.ts'
import type { PlanStep } from './plan.ts'
import type { Project } from './project.ts'
import { inStore } from './stores.ts'

export interface StepOptions {
  project: Project
  step: PlanStep
  runId: string
  /** The step's ledger entry before the run, if any. */
  previous: LedgerEntry | undefined
  signal: AbortSignal
  emit: FluxEventListener
  fluxVersion: string
}

/** What a failure of a step in a transaction is said to have failed at, in its store's error. */
export const IN_TRANSACTION = 'run the step in a transaction'

/**
 * Runs one step and records it. In a transaction where the step allows it, the migration
 * and its ledger record commit together. Elsewhere the ledger says `running` first and
 * `applied` after, so a crash in between leaves the migration dirty, never silently applied.
 * A migration that throws is recorded as it was before the step (unless it saved a
 * checkpoint to resume from), and the error names the migration and direction.
 */
export async function runStep(options: StepOptions): Promise<void> {
  const { step } = options
  const adapter = options.project.adapters[step.store]!
  if (step.transaction) {
    const { work, failure } = transactionalStep(options)
    await inStore(step.store, adapter, IN_TRANSACTION, async () => {
      try {
        await adapter.transaction!(work)
      } catch (error) {
        throw failure(error)
      }
    })
    return
  }

  const outcome = await runChain([options], () => true)
  if (outcome.failure !== undefined) throw outcome.failure
}

/** How a chain of steps ended: how many were done and recorded, from the first, and why the next was not. */
export interface ChainOutcome {
  committed: number
  /** The error of step `committed` (it failed, or its record did); {@link CHAIN_STOPPED} when `proceed` said no. */
  failure?: unknown
}

/** Said of the step after the last one a chain ran when `proceed` stopped it before that step began. */
export const CHAIN_STOPPED = Symbol('chain stopped')

/**
 * Runs steps of one store that have no transaction, one after another: the ledger says
 * `running` before each and `applied` after, so a crash in between leaves the migration
 * dirty, never silently applied. Where the ledger can {@link Ledger.write} several changes
 * at once, a step's final record goes in one write with the next step's `running` record:
 * one round trip (one append, one fsync) per step instead of two. `proceed` is asked before
 * each step after the first; `onCommit` is told how many steps are recorded as they are. A
 * migration that throws is recorded as it was before the step (unless it saved a checkpoint
 * to resume from), and the error names the migration and direction.
 */
export async function runChain(
  chain: readonly StepOptions[],
  proceed: () => boolean,
  onCommit?: (committed: number) => void,
): Promise<ChainOutcome> {
  const { step } = chain[0]!
  const adapter = chain[0]!.project.adapters[step.store]!
  const ledger = adapter.ledger
  ledger.expect?.(chain.map((options) => options.step.id))
  const write = (what: string, changes: LedgerChange[]) =>
    inStore(step.store, adapter, what, () =>
      ledger.write && changes.length > 1 ? ledger.write(changes) : writeOneByOne(ledger, changes),
    )
  /** The last step's final record, not written yet: it goes with the next step's `running`. */
  let final: LedgerChange | undefined
  let committed = 0
  /** The final record did not land: the step ran, and says so in its error. */
  const unrecorded = (error: unknown, options: StepOptions) =>
    FluxError.is(error) && error.code === 'LEASE_LOST' ? ranButFenced(options.step, direction(options), error) : error
  for (const [index, options] of chain.entries()) {
    if (index > 0 && !proceed()) break
    const parts = stepParts(options)
    const changes: LedgerChange[] = final ? [final, { record: parts.running }] : [{ record: parts.running }]
    try {
      await write(
        final
          ? `record ${chain[index - 1]!.step.id} as done and the next step as running`
          : 'record the step as running',
        changes,
      )
    } catch (error) {
      return { committed, failure: final ? unrecorded(error, chain[index - 1]!) : error }
    }
    if (final) onCommit?.(++committed)
    try {
      await parts.body(parts.context(adapter.client(), ledger))
    } catch (error) {
      const failure = parts.fail(error)
      if (parts.checkpointSaved()) return { committed, failure }
      try {
        await (options.previous ? ledger.record(options.previous) : ledger.remove(options.step.id))
      } catch (restoreError) {
        return {
          committed,
          failure: new FluxError(
            'MIGRATION_FAILED',
            `${failure.message}; then its ledger entry could not be restored (${messageOf(restoreError)}), so it shows as dirty`,
            {
              migration: options.step.id,
              store: options.step.store,
              file: options.step.file,
              hint: failure.hint,
              cause: error,
            },
          ),
        }
      }
      return { committed, failure }
    }
    final = parts.direction === 'down' ? { remove: options.step.id } : { record: parts.applied() }
  }
  if (final) {
    const last = chain[committed]!
    try {
      await write(direction(last) === 'down' ? 'remove the step from its ledger' : 'record the step as applied', [
        final,
      ])
    } catch (error) {
      return { committed, failure: unrecorded(error, last) }
    }
    onCommit?.(++committed)
  }
  return committed < chain.length ? { committed, failure: CHAIN_STOPPED } : { committed }
}

function direction(options: StepOptions): 'up' | 'down' {
  return options.step.action === 'revert' ? 'down' : 'up'
}

async function writeOneByOne(ledger: Ledger, changes: readonly LedgerChange[]): Promise<void> {
  for (const change of changes) {
    if ('record' in change) await ledger.record(change.record)
    else await ledger.remove(change.remove)
  }
}

/**
 * A step without a transaction ran to its end, then its store refused to record it: the lease
 * was taken over meanwhile (the runner froze past the ttl). Its changes are in the store, and
 * its ledger entry still says `running`, so it shows as dirty to whoever comes next.
 */
function ranButFenced(step: PlanStep, direction: 'up' | 'down', error: FluxError): FluxError {
  return new FluxError(
    'LEASE_LOST',
    `migration ${step.id} ran (${direction}) but could not be recorded: ${error.message}`,
    {
      migration: step.id,
      store: step.store,
      file: step.file,
      hint: `its changes are in store "${step.store}" and it shows as dirty: check them, then \`flux resolve ${step.id} --applied\` (or \`--rolled-back\`)`,
      details: error.details,
      cause: error,
    },
  )
}

/**
 * A step that runs in a transaction of its store, as the function to run in it (the
 * migration, then its ledger write), for `transaction()` or a batch of them; and what an
 * error it ended with is reported as.
 */
export function transactionalStep(options: StepOptions): {
  work: (client: unknown, ledger: Ledger) => Promise<void>
  failure: (error: unknown) => unknown
} {
  const { step } = options
  const parts = stepParts(options)
  return {
    async work(client, ledger) {
      try {
        await parts.body(parts.context(client, ledger))
      } catch (error) {
        throw parts.fail(error)
      }
      if (parts.direction === 'down') await ledger.remove(step.id)
      else await ledger.record(parts.applied())
    },
    // statements an adapter queued to send with COMMIT (an SQL migration's, on pg) fail
    // there, after the body returned: their MIGRATION_FAILED is the migration's own failure
    failure: (error) =>
      FluxError.is(error) && error.code === 'MIGRATION_FAILED' && error.migration === undefined
        ? parts.fail(error)
        : error,
  }
}

/** What running a step takes: its body, its ledger entries, its context, its failure. */
function stepParts(options: StepOptions) {
  const { project, step } = options
  const definition = project.graph.definitions.get(step.id)!
  const direction: 'up' | 'down' = step.action === 'revert' ? 'down' : 'up'
  const body = direction === 'down' ? definition.down! : definition.up
  const startedAt = new Date()
  const started = performance.now()
  const running: LedgerEntry = {
    id: step.id,
    checksum: direction === 'down' ? (options.previous?.checksum ?? step.checksum) : step.checksum,
    status: 'running',
    appliedAt: startedAt.toISOString(),
    durationMs: 0,
    runId: options.runId,
    fluxVersion: options.fluxVersion,
  }
  if (step.action === 'resume' && options.previous?.checkpoint !== undefined)
    running.checkpoint = options.previous.checkpoint
  const applied = (): LedgerEntry => ({
    ...running,
    status: 'applied',
    appliedAt: new Date().toISOString(),
    durationMs: Math.round(performance.now() - started),
    checkpoint: undefined,
  })
  let checkpointSaved = false
  const context = (client: unknown, ledger: Ledger): MigrationContext => {
    let checkpoint = running.checkpoint
    return {
      store: client,
      // keyed by the names the migration wrote: its roles, in a component package
      stores: Object.fromEntries(
        Object.entries(project.graph.byId.get(step.id)!.usesAs).map(([as, name]) => [
          as,
          project.adapters[name]!.client(),
        ]),
      ),
      log: (message) => options.emit({ type: 'step-log', step, message: String(message) }),
      progress: (total) => {
        let done = 0
        const report = () => options.emit({ type: 'step-progress', step, done, total })
        report()
        return {
          advance: (count = 1) => {
            done += count
            report()
          },
          set: (value) => {
            done = value
            report()
          },
        }
      },
      checkpoint: {
        get value() {
          return checkpoint
        },
        save: async (value) => {
          checkpoint = JSON.parse(JSON.stringify(value ?? null))
          checkpointSaved = true
          await ledger.record({ ...running, checkpoint })
        },
      },
      signal: options.signal,
      migration: { id: step.id, component: step.component, name: step.name, store: step.store, direction },
    }
  }
  const fail = (error: unknown) =>
    new FluxError('MIGRATION_FAILED', `migration ${step.id} failed (${direction}): ${messageOf(error)}`, {
      migration: step.id,
      store: step.store,
      file: step.file,
      hint: step.transaction
        ? `nothing of it was committed; fix ${step.file} and run \`flux ${direction}\` again`
        : `store "${step.store}" may hold part of its changes; fix ${step.file} so it can run again, then \`flux ${direction}\``,
      cause: error,
    })
  return { direction, body, running, applied, context, fail, checkpointSaved: () => checkpointSaved }
}
