import type { LedgerEntry, MigrationNode, StatusRow } from '@flux/core'
import { messageOf, statusOf, toMermaid } from '@flux/core'
import type { SiteStores } from './site-stores.ts'

export interface StoreRow {
  name: string
  kind: string
  target: string
  /** Component roles bound to it, like `@travel/images blobs`. */
  roles: string[]
  state: 'ok' | 'unreachable' | 'retired'
  error?: string
  counts: Record<string, number>
}

export interface FluxStatus {
  stores: StoreRow[]
  migrations: StatusRow[]
  nodes: MigrationNode[]
  mermaid: string
}

/**
 * What `flux status` shows, for the running site: every store's ledger read through the
 * stores the site already holds open (core's `readStatus` opens and closes them itself, which
 * would close them under the pages), then `statusOf` as the CLI computes it.
 */
export async function readFluxStatus(stores: SiteStores): Promise<FluxStatus> {
  const { project } = stores
  const failures = new Map(stores.unavailable)
  const ledgers: Record<string, LedgerEntry[]> = {}
  await Promise.all(
    stores.opened.map(async (name) => {
      try {
        ledgers[name] = await project.adapters[name]!.ledger.read()
      } catch (error) {
        failures.set(name, messageOf(error))
      }
    }),
  )
  const migrations = statusOf(project.graph.nodes, ledgers, {
    retired: project.retired,
    ignoredComponents: project.ignoredComponents,
    unreachable: [...failures.keys()],
  })
  const roles = new Map<string, string[]>()
  for (const component of project.components) {
    for (const [role, store] of Object.entries(component.roles ?? {})) {
      roles.set(store, [...(roles.get(store) ?? []), `${component.name} ${role}`])
    }
  }
  const row = (name: string, kind: string, target: string, state: StoreRow['state']): StoreRow => {
    const counts: Record<string, number> = {}
    for (const migration of migrations.filter((candidate) => candidate.store === name)) {
      counts[migration.status] = (counts[migration.status] ?? 0) + 1
    }
    return { name, kind, target, roles: roles.get(name) ?? [], state, error: failures.get(name), counts }
  }
  const rows = Object.entries(project.adapters)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, adapter]) => row(name, adapter.kind, adapter.describe(), failures.has(name) ? 'unreachable' : 'ok'))
  for (const name of project.retired)
    rows.push(row(name, '—', 'retired: no longer configured; its migrations count as satisfied', 'retired'))
  const statuses = new Map(migrations.map((migration) => [migration.id, migration.status]))
  return { stores: rows, migrations, nodes: project.graph.nodes, mermaid: toMermaid(project.graph, statuses) }
}
