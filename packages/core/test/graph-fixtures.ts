// Graphs and ledgers written as compactly as the planner's tests need them.
import type { LedgerEntry } from '../src/adapter.ts'
import type { LoadedMigration } from '../src/load-migrations.ts'
import { defineMigration } from '../src/migration.ts'

/** Migrations by id (`app/001_a`), each with its edges; all on store `db`, reversible. */
export type EdgeSpec = Record<string, { parents?: string[]; after?: string[] }>

export function specMigrations(spec: EdgeSpec): LoadedMigration[] {
  return Object.entries(spec).map(([id, edges]) => {
    const [component, name] = id.split('/') as [string, string]
    return {
      id,
      component,
      name,
      file: `/p/${id}.ts`,
      displayFile: `${id}.ts`,
      checksum: `sha256:${id}`,
      definition: defineMigration({
        store: 'db',
        parents: edges.parents ?? [],
        ...(edges.after ? { after: edges.after } : {}),
        up: async () => {},
        down: async () => {},
      }),
    }
  })
}

/** Ledger entries for `ids`, applied in the order given, one second apart (checksums as {@link specMigrations}'). */
export function appliedInOrder(ids: readonly string[]): LedgerEntry[] {
  return ids.map((id, index) => ({
    id,
    checksum: `sha256:${id}`,
    status: 'applied',
    appliedAt: `2026-01-01T00:00:${String(index).padStart(2, '0')}.000Z`,
    durationMs: 0,
    runId: 'r',
    fluxVersion: '0',
  }))
}
