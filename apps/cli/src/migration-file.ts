import type { MigrationNode } from '@flux/core'

/** `<UTC timestamp>_<slug>`, a second later while that name is taken. */
export function migrationFileName(slug: string, nodes: readonly MigrationNode[]): string {
  const taken = new Set(nodes.map((node) => node.name))
  for (let time = Date.now(); ; time += 1000) {
    const name = `${new Date(time).toISOString().replace(/\D/g, '').slice(0, 14)}_${slug}`
    if (!taken.has(name)) return name
  }
}
