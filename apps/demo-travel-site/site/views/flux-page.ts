import { html } from 'hono/html'
import type { FluxStatus } from '../flux-status.ts'
import { graphSvg } from './graph-svg.ts'
import { type Html, page } from './layout.ts'

export function fluxPage(status: FluxStatus): Html {
  const total = status.migrations.length
  const counts = new Map<string, number>()
  for (const row of status.migrations) counts.set(row.status, (counts.get(row.status) ?? 0) + 1)
  return page(
    'Under the hood',
    html`<h1>Under the hood: flux status</h1>
      <p class="muted">
        Where every migration stands in every store this site reads, from each store's own ledger
        (what <code>flux status</code> prints), and the migration graph.
        ${total} migrations: ${[...counts].map(([name, count]) => `${count} ${name}`).join(', ')}.
      </p>
      <h2>Stores</h2>
      <table class="stores">
        <tr><th>Store</th><th>Kind</th><th>Where</th><th>Bound roles</th><th>Migrations</th></tr>
        ${status.stores.map(
          (store) => html`<tr data-store="${store.name}">
            <td><strong>${store.name}</strong></td>
            <td>${store.kind}</td>
            <td>${store.target}${store.state === 'unreachable' ? html`<div class="notice">unreachable: ${store.error}</div>` : ''}</td>
            <td>${store.roles.join(', ') || '—'}</td>
            <td>${
              Object.keys(store.counts).length === 0
                ? html`<span class="muted">none</span>`
                : Object.entries(store.counts).map(
                    ([name, count]) => html`<span class="badge ${name}">${count} ${name}</span> `,
                  )
            }</td>
          </tr>`,
        )}
      </table>
      <h2>Graph</h2>
      <div class="graph">${graphSvg(status.nodes, status.migrations)}</div>
      <details><summary>Mermaid source (<code>flux graph --status</code>)</summary><pre>${status.mermaid}</pre></details>
      <h2>Migrations</h2>
      <table class="migrations">
        <tr><th>Migration</th><th>Store</th><th>Status</th><th>Applied</th></tr>
        ${status.migrations.map(
          (row) => html`<tr data-migration="${row.id}">
            <td><code>${row.id}</code></td><td>${row.store}</td>
            <td><span class="badge ${row.status}">${row.status}</span></td>
            <td class="muted">${row.appliedAt ? row.appliedAt.replace('T', ' ').slice(0, 19) : ''}</td>
          </tr>`,
        )}
      </table>`,
  )
}
