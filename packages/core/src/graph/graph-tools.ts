import { FluxError } from '../errors.ts'
import type { Graph, MigrationNode } from './graph.ts'

/**
 * The heads of each component: its migrations that no other migration of the same
 * component names as a parent. One head is a straight history; several are branches.
 */
export function headsByComponent(nodes: readonly MigrationNode[]): Map<string, MigrationNode[]> {
  const parents = new Set(nodes.flatMap((node) => node.parents))
  const heads = new Map<string, MigrationNode[]>()
  for (const node of nodes) {
    if (!heads.has(node.component)) heads.set(node.component, [])
    if (!parents.has(node.id)) heads.get(node.component)!.push(node)
  }
  return heads
}

/** The one head of a component, for `<component>@head`; an error when it has none or several. */
export function singleHead(nodes: readonly MigrationNode[], component: string): MigrationNode {
  const heads = headsByComponent(nodes).get(component)
  if (!heads) {
    throw new FluxError('TARGET_INVALID', `no component is named "${component}"`, {
      hint: 'run `flux heads` to see the components and their heads',
    })
  }
  if (heads.length > 1) {
    throw new FluxError(
      'TARGET_INVALID',
      `"${component}@head" is ambiguous: ${component} has ${heads.length} heads (${heads.map((head) => head.id).join(', ')})`,
      { hint: `name one of them, use \`heads\` for all, or join them with \`flux merge ${component}\`` },
    )
  }
  return heads[0]!
}

/** Mermaid flowchart of the graph: one subgraph per component, an arrow per dependency. */
export function toMermaid(graph: Graph, statuses: ReadonlyMap<string, string> = new Map()): string {
  const ids = new Map(graph.nodes.map((node, index) => [node.id, `m${index}`]))
  const lines = ['flowchart TD']
  for (const [index, component] of componentsOf(graph).entries()) {
    lines.push(`  subgraph c${index}["${mermaidText(component)}"]`)
    for (const node of graph.nodes.filter((candidate) => candidate.component === component)) {
      const status = statuses.get(node.id)
      const label = `${node.name}<br/>${node.store}${status ? ` · ${status}` : ''}`
      lines.push(`    ${ids.get(node.id)}["${mermaidText(label)}"]`)
    }
    lines.push('  end')
  }
  const stores = usedStores(graph)
  for (const [index, store] of stores.entries()) lines.push(`  s${index}[("${mermaidText(store)}")]`)
  for (const node of graph.nodes) {
    for (const parent of node.parents) lines.push(`  ${ids.get(parent)} --> ${ids.get(node.id)}`)
    for (const after of node.after) lines.push(`  ${ids.get(after)} -.-> ${ids.get(node.id)}`)
    for (const store of node.uses) lines.push(`  ${ids.get(node.id)} -. uses .-> s${stores.indexOf(store)}`)
  }
  return `${lines.join('\n')}\n`
}

/** Graphviz dot of the graph: one cluster per component; `after` edges dashed. */
export function toDot(graph: Graph, statuses: ReadonlyMap<string, string> = new Map()): string {
  const lines = ['digraph flux {', '  rankdir=TB;', '  node [shape=box, fontname="monospace"];']
  for (const [index, component] of componentsOf(graph).entries()) {
    lines.push(`  subgraph cluster_${index} {`, `    label=${dotText(component)};`)
    for (const node of graph.nodes.filter((candidate) => candidate.component === component)) {
      const status = statuses.get(node.id)
      lines.push(
        `    ${dotText(node.id)} [label=${dotText(`${node.name}\n${node.store}${status ? ` · ${status}` : ''}`)}];`,
      )
    }
    lines.push('  }')
  }
  for (const store of usedStores(graph))
    lines.push(`  ${dotText(`store:${store}`)} [label=${dotText(store)}, shape=cylinder];`)
  for (const node of graph.nodes) {
    for (const parent of node.parents) lines.push(`  ${dotText(parent)} -> ${dotText(node.id)};`)
    for (const after of node.after) lines.push(`  ${dotText(after)} -> ${dotText(node.id)} [style=dashed];`)
    for (const store of node.uses)
      lines.push(`  ${dotText(node.id)} -> ${dotText(`store:${store}`)} [style=dotted, label="uses"];`)
  }
  lines.push('}')
  return `${lines.join('\n')}\n`
}

/** Stores some migration `uses` (besides its home store), drawn as nodes of their own. */
function usedStores(graph: Graph): string[] {
  return [...new Set(graph.nodes.flatMap((node) => node.uses))].sort()
}

function componentsOf(graph: Graph): string[] {
  return [...new Set(graph.nodes.map((node) => node.component))]
}

function mermaidText(text: string): string {
  return text.replace(/"/g, '#quot;')
}

function dotText(text: string): string {
  return JSON.stringify(text)
}
