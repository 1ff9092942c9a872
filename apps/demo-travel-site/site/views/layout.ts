import { html, raw } from 'hono/html'

export type Html = ReturnType<typeof html>

export const SITE_NAME = 'Wayfarer'

// the whole stylesheet: the site has no build step and loads nothing from elsewhere
const STYLE = `
:root { --ink: #1f2933; --muted: #616e7c; --line: #e4e7eb; --brand: #0b6e4f; --accent: #f4a259; --bg: #f7f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--bg); }
a { color: var(--brand); text-decoration: none; } a:hover { text-decoration: underline; }
header.top { background: #fff; border-bottom: 1px solid var(--line); position: sticky; top: 0; z-index: 2; }
header.top .bar { max-width: 1120px; margin: 0 auto; padding: 12px 20px; display: flex; gap: 24px; align-items: center; }
.logo { font-weight: 800; font-size: 22px; color: var(--brand); letter-spacing: -0.5px; }
.logo span { color: var(--accent); }
nav a { margin-right: 16px; color: var(--ink); font-weight: 500; }
form.search { margin-left: auto; display: flex; gap: 6px; }
form.search input { width: 260px; padding: 8px 12px; border: 1px solid var(--line); border-radius: 20px; font: inherit; }
form.search button, .button { padding: 8px 16px; border: 0; border-radius: 20px; background: var(--brand); color: #fff; font: inherit; cursor: pointer; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 20px 60px; }
.hero { background: linear-gradient(120deg, #0b6e4f, #2a9d8f 60%, #f4a259); color: #fff; border-radius: 16px; padding: 40px; margin-bottom: 32px; }
.hero h1 { margin: 0 0 8px; font-size: 36px; } .hero p { margin: 0; opacity: .9; font-size: 18px; }
h1 { font-size: 30px; margin: 8px 0; } h2 { font-size: 22px; margin: 32px 0 12px; }
.muted { color: var(--muted); } .crumbs { color: var(--muted); font-size: 14px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: 18px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 12px; overflow: hidden; display: block; color: inherit; }
.card:hover { box-shadow: 0 6px 18px rgba(0,0,0,.08); text-decoration: none; }
.card img, .card .placeholder { width: 100%; height: 150px; object-fit: cover; display: block; background: #dde3ea; }
.card .body { padding: 12px 14px; } .card h3 { margin: 0 0 4px; font-size: 17px; }
.stars { color: #e09f3e; letter-spacing: 1px; } .price { font-weight: 700; }
.strip { display: flex; gap: 12px; overflow-x: auto; padding-bottom: 6px; }
.strip .card { min-width: 180px; max-width: 180px; } .strip .card img { height: 100px; }
.gallery { display: grid; grid-template-columns: 2fr 1fr 1fr; gap: 8px; }
.gallery img { width: 100%; height: 100%; min-height: 140px; object-fit: cover; border-radius: 10px; background: #dde3ea; }
.gallery img:first-child { grid-row: span 2; }
.columns { display: grid; grid-template-columns: 2fr 1fr; gap: 32px; }
table { width: 100%; border-collapse: collapse; background: #fff; border: 1px solid var(--line); border-radius: 10px; overflow: hidden; }
th, td { text-align: left; padding: 8px 12px; border-bottom: 1px solid var(--line); font-size: 14px; vertical-align: top; }
th { background: #f0f3f6; font-weight: 600; }
.review { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; margin-bottom: 10px; }
.panel { background: #fff; border: 1px solid var(--line); border-radius: 12px; padding: 16px; }
.notice { background: #fff8e6; border: 1px solid #f5d48a; border-radius: 10px; padding: 10px 14px; margin: 12px 0; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; background: #e4e7eb; }
.badge.applied { background: #d3f2e3; color: #0b6e4f; } .badge.pending { background: #fff1d6; color: #8a5a00; }
.badge.retired { background: #eceff3; color: #616e7c; } .badge.dirty, .badge.drift, .badge.missing, .badge.unknown { background: #fde2e1; color: #a4262c; }
.day { margin-bottom: 18px; } .day ol { margin: 6px 0; }
.graph { overflow-x: auto; background: #fff; border: 1px solid var(--line); border-radius: 12px; padding: 12px; }
footer { text-align: center; color: var(--muted); font-size: 13px; padding: 24px; }
`

// suggestions as you type: a few lines of plain script filling a <datalist> from /search/suggest
const SUGGEST_SCRIPT = `
const input = document.querySelector('#q'), list = document.querySelector('#suggestions');
let asked = '';
input?.addEventListener('input', async () => {
  const q = input.value.trim(); if (q === asked || q.length < 2) return; asked = q;
  const found = await (await fetch('/search/suggest?q=' + encodeURIComponent(q))).json();
  if (asked !== q) return;
  list.replaceChildren(...found.map((s) => Object.assign(document.createElement('option'), { value: s.label })));
});
`

export function page(title: string, body: Html, options: { query?: string } = {}): Html {
  return html`<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>${title} · ${SITE_NAME}</title>
    <style>${raw(STYLE)}</style>
  </head>
  <body>
    <header class="top">
      <div class="bar">
        <a class="logo" href="/">Way<span>farer</span></a>
        <nav><a href="/">Destinations</a><a href="/flux">Under the hood</a></nav>
        <form class="search" action="/search" method="get" role="search">
          <input id="q" name="q" type="search" list="suggestions" placeholder="Search hotels and places" value="${options.query ?? ''}" autocomplete="off" />
          <datalist id="suggestions"></datalist>
          <button type="submit">Search</button>
        </form>
      </div>
    </header>
    <main>${body}</main>
    <footer>${SITE_NAME} — the flux reference travel site. Data from PostgreSQL, Redis, MongoDB and a blob store, wherever flux.config.ts says.</footer>
    <script type="module">${raw(SUGGEST_SCRIPT)}</script>
  </body>
</html>`
}

export function stars(count: number): string {
  return '★'.repeat(Math.max(0, Math.min(5, count))) + '☆'.repeat(Math.max(0, 5 - count))
}

export function money(cents: number | null | undefined): string {
  return cents == null ? '—' : `€${Math.round(cents / 100).toLocaleString('en')}`
}

export function notice(text: string | undefined): Html | string {
  return text ? html`<p class="notice">${text}</p>` : ''
}
