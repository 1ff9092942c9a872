import { randomUUID } from 'node:crypto'
import { basename, relative } from 'node:path'
import type { LeaseHolder, LedgerEntry } from './adapter.ts'
import { FluxError } from './errors.ts'
import { headsByComponent } from './graph/graph-tools.ts'
import { resolveTarget } from './graph/targets.ts'
import { isHolderGone } from './lease.ts'
import { withLeases } from './lease-set.ts'
import { createPlan, type Plan, type StatusRow, statusOf } from './plan.ts'
import { nodesOutsideFleets, type Project, storeInfoOf } from './project.ts'
import { FLUX_VERSION } from './runner.ts'
import { closeStores, inStore, openStores, readLedgers } from './stores.ts'
import { checkSum, hasSum, isInstalledPackageDir, type SumProblem, updateSum } from './sum.ts'

export interface StoreStatus {
  name: string
  kind: string
  target: string
  /** Who holds the store's lease right now, if anyone: a dirty migration there may still be running. */
  leasedBy?: LeaseHolder
  /** `leasedBy` ran on this host and its process is gone: the next run takes its lease over at once. */
  holderGone?: boolean
  /** Why the store could not be reached (`readStatus` with `partial`); its migrations are `unknown`. */
  error?: { code: string; message: string; hint?: string }
}

export interface ProjectStatus {
  migrations: StatusRow[]
  stores: StoreStatus[]
}

/** How long `readStatus({ partial: true })` waits for a store to open before it calls it unreachable. */
export const STATUS_OPEN_TIMEOUT_MS = 5_000

/**
 * Where every migration stands in every store. Takes no lease: it only reads. A store that
 * cannot be opened or read fails the whole call, unless `partial` (`flux status`): then it is
 * given up after {@link STATUS_OPEN_TIMEOUT_MS}, has an `error`, and its migrations are `unknown`.
 */
export async function readStatus(project: Project, options: { partial?: boolean } = {}): Promise<ProjectStatus> {
  if (!options.partial) {
    return withStores(project, (names) => statusOfStores(project, names, undefined), { reading: true })
  }
  const names = Object.keys(project.adapters).sort()
  const opened = await Promise.allSettled(
    names.map((name) => {
      const adapter = project.adapters[name]!
      return inStore(
        name,
        adapter,
        'open it',
        () => withinStatusTimeout(adapter.open({ leaseLikely: false })),
        'STORE_UNAVAILABLE',
      )
    }),
  )
  const failures = new Map<string, FluxError>()
  opened.forEach((result, index) => {
    if (result.status === 'rejected') failures.set(names[index]!, result.reason as FluxError)
  })
  try {
    return await statusOfStores(project, names, failures)
  } finally {
    // those that failed or are still connecting too: their clients must not keep the process alive
    await closeStores(project.adapters, names)
  }
}

/** The status of the opened stores; with `failures` (partial), a store that fails to be read is added to it instead of thrown. */
async function statusOfStores(
  project: Project,
  names: string[],
  failures: Map<string, FluxError> | undefined,
): Promise<ProjectStatus> {
  const ledgers: Record<string, LedgerEntry[]> = {}
  const tolerate = async (name: string, call: () => Promise<void>) => {
    try {
      await call()
    } catch (error) {
      if (!failures) throw error
      failures.set(name, error as FluxError)
    }
  }
  await Promise.all(
    names
      .filter((name) => !failures?.has(name))
      .map((name) =>
        tolerate(name, async () => {
          ledgers[name] = (await readLedgers(project.adapters, [name]))[name]!
        }),
      ),
  )
  const migrations = statusOf(nodesOutsideFleets(project), ledgers, {
    retired: project.retired,
    ignoredComponents: project.ignoredComponents,
    unreachable: names.filter((name) => failures?.has(name)),
  })
  const dirtyStores = new Set(migrations.filter((row) => row.status === 'dirty').map((row) => row.store))
  const stores = names.map((name): StoreStatus => {
    const adapter = project.adapters[name]!
    return { name, kind: adapter.kind, target: adapter.describe() }
  })
  await Promise.all(
    stores
      .filter((status) => dirtyStores.has(status.name))
      .map((status) =>
        tolerate(status.name, async () => {
          const adapter = project.adapters[status.name]!
          const holder = await inStore(status.name, adapter, 'read its lease', () => adapter.inspectLease())
          if (holder) status.leasedBy = holder
          if (holder && isHolderGone(holder)) status.holderGone = true
        }),
      ),
  )
  for (const status of stores) {
    const failure = failures?.get(status.name)
    if (failure)
      status.error = { code: failure.code, message: failure.message, ...(failure.hint ? { hint: failure.hint } : {}) }
  }
  return { migrations, stores }
}

/** A store's `open()`, given up after {@link STATUS_OPEN_TIMEOUT_MS}. */
function withinStatusTimeout(opening: Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`it did not answer within ${STATUS_OPEN_TIMEOUT_MS / 1000} s`)),
      STATUS_OPEN_TIMEOUT_MS,
    )
  })
  return Promise.race([opening, timeout]).finally(() => clearTimeout(timer))
}

/**
 * What `up` or `down` would do now, without leasing or changing anything. A `running`
 * entry counts as dirty here, as `status` shows it.
 */
export async function previewPlan(
  project: Project,
  options: {
    direction: 'up' | 'down'
    target?: string | undefined
    steps?: number | undefined
    /** Plan against empty ledgers, opening no store: what a fresh database would get (`flux plan --sql --offline`). */
    offline?: boolean
  },
): Promise<Plan> {
  const plan = (names: string[], ledgers: Record<string, LedgerEntry[]>) =>
    createPlan({
      nodes: nodesOutsideFleets(project),
      ledgers,
      stores: storeInfoOf(project.adapters),
      direction: options.direction,
      target: options.target,
      steps: options.steps,
      leased: names,
      retired: project.retired,
      ignoredComponents: project.ignoredComponents,
    })
  if (options.offline) {
    const names = Object.keys(project.adapters).sort()
    return plan(names, Object.fromEntries(names.map((name) => [name, []])))
  }
  return withStores(project, async (names) => plan(names, await readLedgers(project.adapters, names)), {
    reading: true,
  })
}

export interface VerifyReport {
  /** Drift, missing and dirty migrations. */
  migrations: StatusRow[]
  /** Migrations folders that do not match their `flux.sum`. */
  sums: SumProblem[]
  /** Components with several heads that do not allow branches. */
  branches: { component: string; heads: string[] }[]
  ok: boolean
}

/** Checks every applied migration against its file, and every migrations folder against its `flux.sum`. */
export async function verify(project: Project): Promise<VerifyReport> {
  const status = await readStatus(project)
  const migrations = status.migrations.filter((row) => ['drift', 'missing', 'dirty'].includes(row.status))
  const sums = (
    await Promise.all(
      project.components.map(async (component) => {
        // a package that ships no flux.sum cannot be given one (`flux sum` skips node_modules)
        if (!(await hasSum(component.dir)) && (await isInstalledPackageDir(component.dir))) return []
        return checkSum(component.dir, relative(process.cwd(), component.dir) || '.', project.loaders.keys())
      }),
    )
  ).flat()
  const allowed = new Set(
    project.components.filter((component) => component.allowBranches).map((component) => component.name),
  )
  const branches = [...headsByComponent(project.graph.nodes)]
    .filter(([component, heads]) => heads.length > 1 && !allowed.has(component))
    .map(([component, heads]) => ({ component, heads: heads.map((head) => head.id) }))
  return { migrations, sums, branches, ok: migrations.length === 0 && sums.length === 0 && branches.length === 0 }
}

/**
 * Records what really happened to a dirty migration: `applied` (its changes are all there)
 * or `rolled-back` (none are: it will run again). Takes the store's lease, so it never races
 * a live runner.
 */
export async function resolveDirty(
  project: Project,
  target: string,
  outcome: 'applied' | 'rolled-back',
): Promise<LedgerEntry | undefined> {
  const node = resolveTarget(project.graph.nodes, target)
  const adapter = project.adapters[node.store]!
  return withStores(
    project,
    async () => {
      const runId = randomUUID()
      return withLeases(project, [node.store], runId, async () => {
        const entry = (await inStore(node.store, adapter, 'read its ledger', () => adapter.ledger.read())).find(
          (candidate) => candidate.id === node.id,
        )
        if (entry?.status !== 'running') {
          throw new FluxError(
            'USAGE',
            `${node.id} is not dirty in store "${node.store}" (it is ${entry ? 'applied' : 'pending'})`,
            {
              migration: node.id,
              hint: 'only a migration that `flux status` shows as dirty can be resolved',
            },
          )
        }
        if (outcome === 'rolled-back') {
          await inStore(node.store, adapter, 'update its ledger', () => adapter.ledger.remove(node.id))
          return undefined
        }
        const resolved: LedgerEntry = {
          ...entry,
          status: 'applied',
          checksum: node.checksum,
          runId,
          fluxVersion: FLUX_VERSION,
        }
        delete resolved.checkpoint
        await inStore(node.store, adapter, 'update its ledger', () => adapter.ledger.record(resolved))
        return resolved
      })
    },
    { only: [node.store] },
  )
}

export interface AcceptedChange {
  id: string
  store: string
  /** The migration file, relative to the working directory. */
  file: string
  /** Checksum recorded in the store's ledger before. */
  from: string
  /** Checksum of the file now, recorded instead. */
  to: string
}

export interface AcceptResult {
  /** Applied migrations whose file changed: their ledger entry now records the file's checksum. */
  accepted: AcceptedChange[]
  /** Named migrations whose file had not changed since they were applied. */
  unchanged: string[]
  /** `flux.sum` files updated, relative to the working directory. */
  sums: string[]
  /** Folders of installed packages (in `node_modules`), whose `flux.sum` flux does not write. */
  skippedSums: string[]
}

/**
 * Accepts an intentional edit of applied migrations (`flux accept`; Flyway's `repair`,
 * Liquibase's `clear-checksums`): for each named migration whose file changed since it was
 * applied, records the file's checksum in its store's ledger and updates its line in the
 * folder's `flux.sum`. Nothing runs. Takes the leases of the stores concerned and reads their
 * ledgers under them; refuses (`USAGE`) a migration that is not applied, or dirty, before
 * changing anything.
 */
export async function acceptChanges(project: Project, targets: readonly string[]): Promise<AcceptResult> {
  const byId = new Map(
    targets.map((target) => resolveTarget(project.graph.nodes, target)).map((node) => [node.id, node]),
  )
  const nodes = [...byId.values()]
  const stores = [...new Set(nodes.map((node) => node.store))].sort()
  return withStores(
    project,
    () =>
      withLeases(project, stores, randomUUID(), async () => {
        const ledgers = await readLedgers(project.adapters, stores)
        const changed: { node: (typeof nodes)[number]; entry: LedgerEntry }[] = []
        const unchanged: string[] = []
        for (const node of nodes) {
          const entry = ledgers[node.store]!.find((candidate) => candidate.id === node.id)
          if (entry?.status !== 'applied') {
            throw new FluxError(
              'USAGE',
              `${node.id} is ${entry ? 'dirty' : 'not applied'} in store "${node.store}": there is no applied checksum to accept`,
              {
                migration: node.id,
                hint: entry
                  ? '`flux resolve` it first; a dirty migration takes its checksum when it is resolved'
                  : 'edit a pending migration freely, then run `flux sum`; `flux up` records its checksum',
              },
            )
          }
          if (entry.checksum === node.checksum) unchanged.push(node.id)
          else changed.push({ node, entry })
        }
        const result: AcceptResult = { accepted: [], unchanged, sums: [], skippedSums: [] }
        const byFolder = new Map<string, string[]>()
        for (const { node } of changed) {
          const dir = project.components.find((component) => component.name === node.component)!.dir
          const file = project.migrations.find((migration) => migration.id === node.id)!.file
          byFolder.set(dir, [...(byFolder.get(dir) ?? []), basename(file)])
        }
        // the sum first: after a failure below, `flux accept` again finds the ledger still to update
        for (const [dir, fileNames] of byFolder) {
          const folder = relative(process.cwd(), dir) || '.'
          if (await isInstalledPackageDir(dir)) result.skippedSums.push(folder)
          else result.sums.push(relative(process.cwd(), await updateSum(dir, fileNames, project.loaders.keys())))
        }
        for (const { node, entry } of changed) {
          const adapter = project.adapters[node.store]!
          // only the checksum: when and by which run it was applied stays as it was
          const record: LedgerEntry = { ...entry, checksum: node.checksum }
          await inStore(node.store, adapter, 'update its ledger', () => adapter.ledger.record(record))
          result.accepted.push({
            id: node.id,
            store: node.store,
            file: node.file,
            from: entry.checksum,
            to: node.checksum,
          })
        }
        return result
      }),
    { only: stores },
  )
}

/** Frees a store's lease whoever holds it (a runner that died on another host). Returns who held it. */
export async function unlock(project: Project, store: string): Promise<LeaseHolder | undefined> {
  const adapter = project.adapters[store]
  if (!adapter) {
    throw new FluxError('USAGE', `unknown store "${store}"`, {
      hint: `stores in the config: ${Object.keys(project.adapters).join(', ') || 'none'}`,
    })
  }
  return withStores(project, () => inStore(store, adapter, 'break its lease', () => adapter.breakLease()), {
    only: [store],
  })
}

/** `body` with the stores open (`only` those); `reading`: it takes no lease (status, plan). */
async function withStores<T>(
  project: Project,
  body: (names: string[]) => Promise<T>,
  options: { only?: string[]; reading?: boolean } = {},
): Promise<T> {
  const names = options.only ?? Object.keys(project.adapters).sort()
  await openStores(project.adapters, names, options.reading ? { leaseLikely: false } : undefined)
  try {
    return await body(names)
  } finally {
    await closeStores(project.adapters, names)
  }
}
