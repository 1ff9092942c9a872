import { randomUUID } from 'node:crypto'
import type { LedgerEntry } from './adapter.ts'
import { FluxError } from './errors.ts'
import type { MigrationNode } from './graph/graph.ts'
import { resolveTarget } from './graph/targets.ts'
import { withLeases } from './lease-set.ts'
import type { MigrationContext } from './migration.ts'
import { ancestorsOf, type StatusRow, statusOf } from './plan.ts'
import { nodesOutsideFleets, type Project } from './project.ts'
import { FLUX_VERSION } from './runner.ts'
import { closeStores, inStore, openStores, readLedgers } from './stores.ts'

export interface MarkResult {
  /** Ids whose ledger entry was written or removed, in order. */
  changed: string[]
}

/**
 * Records migrations as applied without running them (`flux mark --applied`, and with
 * `withAncestors` `flux baseline`: adopt a store whose history was applied by other means),
 * or removes a mistaken record (`flux mark --pending`). Takes the leases of the stores it
 * writes, and reads their ledgers under them.
 */
export async function markMigrations(
  project: Project,
  target: string,
  state: 'applied' | 'pending',
  options: { withAncestors?: boolean } = {},
): Promise<MarkResult> {
  const node = resolveTarget(project.graph.nodes, target)
  const wanted = ancestorsOf(project.graph.nodes, node.id)
  const chosen =
    state === 'applied' && options.withAncestors
      ? project.graph.nodes.filter((candidate) => wanted.has(candidate.id))
      : [node]
  return withLiveStores(
    project,
    async (rows) => {
      const byId = new Map(rows.map((row) => [row.id, row]))
      if (state === 'pending') {
        const row = byId.get(node.id)!
        if (row.status === 'pending' || row.status === 'retired') {
          throw new FluxError('USAGE', `${node.id} is not recorded in store "${node.store}" (it is ${row.status})`)
        }
        const dependents = descendantsOf(project, node.id).filter((id) =>
          ['applied', 'drift', 'dirty'].includes(byId.get(id)!.status),
        )
        if (dependents.length > 0) {
          throw new FluxError(
            'USAGE',
            `${node.id} cannot be marked pending while ${dependents.join(', ')} depend on it and are applied`,
            {
              hint: 'mark those pending first, newest first',
            },
          )
        }
        await inStore(node.store, project.adapters[node.store]!, 'update its ledger', () =>
          project.adapters[node.store]!.ledger.remove(node.id),
        )
        return { changed: [node.id] }
      }
      const missingParents = [...node.parents, ...node.after].filter(
        (id) => !chosen.some((chosenNode) => chosenNode.id === id) && byId.get(id)?.status === 'pending',
      )
      if (missingParents.length > 0) {
        throw new FluxError('USAGE', `${node.id} depends on ${missingParents.join(', ')}, which are not applied`, {
          hint: `\`flux baseline ${target}\` records it with everything it depends on`,
        })
      }
      const runId = randomUUID()
      const changed: string[] = []
      for (const candidate of chosen) {
        const status = byId.get(candidate.id)!.status
        if (status !== 'pending' && status !== 'dirty') continue
        const entry: LedgerEntry = {
          id: candidate.id,
          checksum: candidate.checksum,
          status: 'applied',
          appliedAt: new Date().toISOString(),
          durationMs: 0,
          runId,
          fluxVersion: FLUX_VERSION,
        }
        const adapter = project.adapters[candidate.store]!
        await inStore(candidate.store, adapter, 'update its ledger', () => adapter.ledger.record(entry))
        changed.push(candidate.id)
      }
      return { changed }
    },
    chosen.map((chosenNode) => chosenNode.store),
  )
}

export interface AutoResolution {
  id: string
  /** What `verify` found: recorded as applied, rolled back (pending again), or left for a human. */
  outcome: 'applied' | 'rolled-back' | 'unsure'
  reason?: string
}

/**
 * `flux resolve --auto`: for each dirty migration, runs its `verify(ctx)` against the store
 * and records what it finds. A migration without `verify`, or whose `verify` cannot tell,
 * stays dirty for a human to decide.
 */
export async function resolveAutomatically(
  project: Project,
  signal: AbortSignal = new AbortController().signal,
): Promise<AutoResolution[]> {
  return withLiveStores(project, async (rows) => {
    const results: AutoResolution[] = []
    for (const row of rows.filter((candidate) => candidate.status === 'dirty')) {
      const node = project.graph.byId.get(row.id)!
      const definition = project.graph.definitions.get(row.id)!
      if (!definition.verify) {
        results.push({ id: row.id, outcome: 'unsure', reason: 'it has no verify()' })
        continue
      }
      const adapter = project.adapters[node.store]!
      const entries = await inStore(node.store, adapter, 'read its ledger', () => adapter.ledger.read())
      const entry = entries.find((candidate) => candidate.id === node.id)
      if (entry?.status !== 'running') continue
      const found = await definition.verify(verifyContext(project, node, entry, signal))
      if (found === true) {
        const applied: LedgerEntry = { ...entry, status: 'applied', checksum: node.checksum }
        delete applied.checkpoint
        await inStore(node.store, adapter, 'update its ledger', () => adapter.ledger.record(applied))
        results.push({ id: node.id, outcome: 'applied' })
      } else if (found === false) {
        await inStore(node.store, adapter, 'update its ledger', () => adapter.ledger.remove(node.id))
        results.push({ id: node.id, outcome: 'rolled-back' })
      } else {
        results.push({ id: node.id, outcome: 'unsure', reason: 'its verify() could not tell' })
      }
    }
    return results
  })
}

function verifyContext(
  project: Project,
  node: MigrationNode,
  entry: LedgerEntry,
  signal: AbortSignal,
): MigrationContext {
  return {
    store: project.adapters[node.store]!.client(),
    stores: Object.fromEntries(Object.entries(node.usesAs).map(([as, name]) => [as, project.adapters[name]!.client()])),
    log: () => {},
    progress: () => ({ advance: () => {}, set: () => {} }),
    checkpoint: {
      value: entry.checkpoint,
      save: async () => {
        throw new FluxError('USAGE', `${node.id}: verify() cannot save a checkpoint`)
      },
    },
    signal,
    migration: { id: node.id, component: node.component, name: node.name, store: node.store, direction: 'up' },
  }
}

/** Opens the live stores, leases `leased` (all when omitted), reads every ledger under it, and runs `body` with the status rows. */
async function withLiveStores<T>(
  project: Project,
  body: (rows: StatusRow[]) => Promise<T>,
  leased?: string[],
): Promise<T> {
  const names = Object.keys(project.adapters).sort()
  await openStores(project.adapters, names)
  try {
    const toLease = [...new Set(leased ?? names)].filter((name) => project.adapters[name])
    return await withLeases(project, toLease, randomUUID(), async () => {
      const ledgers = await readLedgers(project.adapters, names)
      return body(statusOf(nodesOutsideFleets(project), ledgers, project))
    })
  } finally {
    await closeStores(project.adapters, names)
  }
}

function descendantsOf(project: Project, id: string): string[] {
  const found = new Set<string>()
  const stack = [...(project.graph.children.get(id) ?? [])]
  while (stack.length > 0) {
    const current = stack.pop()!
    if (found.has(current)) continue
    found.add(current)
    stack.push(...(project.graph.children.get(current) ?? []))
  }
  return project.graph.nodes.filter((node) => found.has(node.id)).map((node) => node.id)
}
