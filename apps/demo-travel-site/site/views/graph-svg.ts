import type { MigrationNode, StatusRow } from '@flux/core'
import { html } from 'hono/html'
import type { Html } from './layout.ts'

const NODE_WIDTH = 178
const NODE_HEIGHT = 44
const COLUMN = NODE_WIDTH + 14
const ROW = NODE_HEIGHT + 26
const LANE_TITLE = 30
const FILL: Record<string, string> = {
  applied: '#d3f2e3',
  pending: '#fff1d6',
  retired: '#eceff3',
  unknown: '#fde2e1',
  dirty: '#fde2e1',
  drift: '#fde2e1',
  missing: '#fde2e1',
}

/**
 * The migration graph drawn server side as SVG: one column (lane) per store, migrations placed
 * top to bottom by depth (a migration sits below its parents and `after`s), solid arrows for
 * parents, dashed for `after`, each box coloured by its status and naming the stores it uses.
 */
export function graphSvg(nodes: MigrationNode[], migrations: StatusRow[]): Html {
  const status = new Map(migrations.map((row) => [row.id, row.status]))
  const depth = new Map<string, number>()
  for (const node of nodes) {
    // nodes come in topological order: every parent has its depth already
    const before = [...node.parents, ...node.after].map((id) => depth.get(id) ?? -1)
    depth.set(node.id, Math.max(-1, ...before) + 1)
  }
  const place = new Map<string, { x: number; y: number }>()
  const lanes: { store: string; x: number; width: number }[] = []
  let left = 0
  for (const store of [...new Set(nodes.map((node) => node.store))]) {
    const used = new Map<number, number>()
    for (const node of nodes.filter((candidate) => candidate.store === store)) {
      const row = depth.get(node.id)!
      const slot = used.get(row) ?? 0
      used.set(row, slot + 1)
      place.set(node.id, { x: left + 8 + slot * COLUMN, y: LANE_TITLE + 10 + row * ROW })
    }
    const width = Math.max(1, ...used.values()) * COLUMN + 2
    lanes.push({ store, x: left, width })
    left += width + 8
  }
  const height = LANE_TITLE + 10 + (Math.max(0, ...depth.values()) + 1) * ROW
  const width = Math.max(left - 8, 1)
  const edges = nodes.flatMap((node) => [
    ...node.parents.map((parent) => ({ from: parent, to: node.id, dashed: false })),
    ...node.after.map((after) => ({ from: after, to: node.id, dashed: true })),
  ])
  return html`<svg class="flux-graph" xmlns="http://www.w3.org/2000/svg" width="100%" style="max-width: ${width}px" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="11">
    <defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#7b8794" /></marker></defs>
    ${lanes.map(
      (
        lane,
        index,
      ) => html`<rect x="${lane.x}" y="0" width="${lane.width}" height="${height}" fill="${index % 2 ? '#f7f8fa' : '#eef2f6'}" rx="6" />
        <text x="${lane.x + 10}" y="20" font-weight="700" font-size="13" fill="#1f2933">${lane.store}</text>`,
    )}
    ${edges
      .filter((edge) => place.has(edge.from) && place.has(edge.to))
      .map((edge) => {
        const from = place.get(edge.from)!
        const to = place.get(edge.to)!
        const [x1, y1, x2, y2] = [from.x + NODE_WIDTH / 2, from.y + NODE_HEIGHT, to.x + NODE_WIDTH / 2, to.y]
        const middle = (y1 + y2) / 2
        return html`<path d="M ${x1} ${y1} C ${x1} ${middle}, ${x2} ${middle}, ${x2} ${y2}" fill="none" stroke="#7b8794" stroke-width="1.3" ${edge.dashed ? html`stroke-dasharray="5 4"` : ''} marker-end="url(#arrow)" />`
      })}
    ${nodes.map((node) => {
      const at = place.get(node.id)!
      const state = status.get(node.id) ?? 'unknown'
      const label = node.name.replace(/^\d{14}_/, '')
      const detail = [
        node.component === 'app' ? '' : node.component,
        state,
        node.uses.length ? `uses ${node.uses.join(', ')}` : '',
      ]
        .filter(Boolean)
        .join(' · ')
      return html`<g class="node" data-id="${node.id}" data-status="${state}">
        <title>${node.id} (store ${node.store}${node.uses.length ? `, uses ${node.uses.join(', ')}` : ''}): ${state}</title>
        <rect x="${at.x}" y="${at.y}" width="${NODE_WIDTH}" height="${NODE_HEIGHT}" rx="6" fill="${FILL[state] ?? '#fff'}" stroke="#9aa5b1" />
        <text x="${at.x + 8}" y="${at.y + 17}" fill="#1f2933" font-weight="600">${clip(label, 28)}</text>
        <text x="${at.x + 8}" y="${at.y + 33}" fill="#616e7c">${clip(detail, 32)}</text>
      </g>`
    })}
  </svg>`
}

function clip(text: string, length: number): string {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text
}
