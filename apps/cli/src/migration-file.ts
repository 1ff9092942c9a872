import type { MigrationNode } from '@flux/core'

/**
 * `<UTC timestamp>_<slug>`, a second later while a migration has that timestamp: each file
 * gets a second of its own, so file order is creation order even for `flux new b` then
 * `flux new a` within a second (a file without `parents` follows the previous file by name).
 */
export function migrationFileName(slug: string, nodes: readonly MigrationNode[]): string {
  const taken = new Set(nodes.map((node) => node.name.slice(0, 15)))
  for (let time = Date.now(); ; time += 1000) {
    const stamp = new Date(time).toISOString().replace(/\D/g, '').slice(0, 14)
    if (!taken.has(`${stamp}_`)) return `${stamp}_${slug}`
  }
}
