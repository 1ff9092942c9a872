import { createHash } from 'node:crypto'
import { isDeepStrictEqual } from 'node:util'
import type { BlobStore } from '../adapter.ts'
import { FluxError } from '../errors.ts'
import type { StepResult } from '../events.ts'
import { headsByComponent } from '../graph/graph-tools.ts'
import { previewPlan } from '../operations.ts'
import type { Project } from '../project.ts'
import { type MigrateOptions, migrate, type RunReport } from '../runner.ts'
import { closeStores, openStores } from '../stores.ts'

/**
 * Helpers for testing an application's own migrations against real stores, in the test
 * runner of your choice.
 *
 * @example
 * ```ts
 * import { loadProject } from '@flux/core'
 * import { checkSingleHead, checkStairway } from '@flux/core/testing'
 *
 * test('every down() undoes its up()', async () => {
 *   const project = await loadProject({ cwd: fixtureDir })
 *   await checkStairway(project)          // up → down → up, one migration at a time
 *   checkSingleHead(project)              // no forgotten merge
 * })
 * ```
 */

/** Runs `up` (or `down`) to a target and throws what stopped it. */
export async function migrateTo(project: Project, target: string, direction: 'up' | 'down' = 'up'): Promise<RunReport> {
  return run(project, { direction, target })
}

/** Applies the next pending migration in run order; `undefined` when none is left. */
export async function stepUp(project: Project): Promise<StepResult | undefined> {
  const next = (await previewPlan(project, { direction: 'up' })).steps.find((step) => step.action === 'apply')
  if (!next) return undefined
  return (await run(project, { direction: 'up', target: next.id })).steps.find((step) => step.id === next.id)
}

/** Reverts the last applied migration; `undefined` when none is applied. */
export async function stepDown(project: Project): Promise<StepResult | undefined> {
  return (await run(project, { direction: 'down', steps: 1 })).steps[0]
}

/** A picture of the stores' data, compared before `up` and after `down`. */
export type Snapshot = (clients: Record<string, unknown>) => Promise<unknown>

export interface StairwayOptions {
  /**
   * Takes a picture of the data, to check that each `down` leaves the stores as they were
   * before its `up`. Default: every blob store's keys and content hashes; other stores are
   * checked only by `up` running again after `down` without error.
   */
  snapshot?: Snapshot
}

/**
 * The "stairway" check: from an empty state, for every migration in run order, `up`, then
 * `down`, then `up` again. Fails on the first migration whose `down` does not undo its `up`
 * (the snapshot differs, or `up` fails the second time), naming it.
 */
export async function checkStairway(project: Project, options: StairwayOptions = {}): Promise<void> {
  const snapshot = options.snapshot ?? blobSnapshot
  for (;;) {
    const before = await withClients(project, snapshot)
    const applied = await stepUp(project)
    if (!applied) return
    const reverted = await stepDown(project)
    if (reverted?.id !== applied.id) {
      throw new FluxError('INTEGRITY', `stairway: after ${applied.id}, down reverted ${reverted?.id ?? 'nothing'}`)
    }
    const after = await withClients(project, snapshot)
    if (!isDeepStrictEqual(before, after)) {
      const file = project.graph.byId.get(applied.id)?.file
      throw new FluxError('INTEGRITY', `stairway: the down() of ${applied.id} does not undo its up()`, {
        migration: applied.id,
        file,
        hint: `compare what up() and down() of ${file} change`,
        details: { before, after },
      })
    }
    try {
      await stepUp(project)
    } catch (error) {
      throw new FluxError('INTEGRITY', `stairway: ${applied.id} cannot run again after its down()`, {
        migration: applied.id,
        cause: error,
      })
    }
  }
}

/** Fails when a component (or every component) has several heads: a merge was forgotten. */
export function checkSingleHead(project: Project, component?: string): void {
  for (const [name, heads] of headsByComponent(project.graph.nodes)) {
    if (component !== undefined && name !== component) continue
    if (heads.length > 1) {
      throw new FluxError(
        'INTEGRITY',
        `${name} has ${heads.length} heads: ${heads.map((head) => head.id).join(', ')}`,
        {
          hint: `join them with \`flux merge ${name}\``,
        },
      )
    }
  }
}

async function run(project: Project, options: MigrateOptions): Promise<RunReport> {
  const report = await migrate(project, options)
  if (report.error) throw report.error
  return report
}

async function withClients<T>(project: Project, body: (clients: Record<string, unknown>) => Promise<T>): Promise<T> {
  const names = Object.keys(project.adapters).sort()
  await openStores(project.adapters, names)
  try {
    return await body(Object.fromEntries(names.map((name) => [name, project.adapters[name]!.client()])))
  } finally {
    await closeStores(project.adapters, names)
  }
}

async function blobSnapshot(clients: Record<string, unknown>): Promise<unknown> {
  const picture: Record<string, Record<string, string>> = {}
  for (const [name, client] of Object.entries(clients)) {
    if (!isBlobStore(client)) continue
    const files: Record<string, string> = {}
    for (const key of await client.list(''))
      files[key] = createHash('sha256')
        .update(await client.get(key))
        .digest('hex')
    picture[name] = files
  }
  return picture
}

function isBlobStore(client: unknown): client is BlobStore {
  return (
    typeof client === 'object' &&
    client !== null &&
    typeof (client as BlobStore).list === 'function' &&
    typeof (client as BlobStore).get === 'function'
  )
}
