import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fsStore } from '@flux/fs'
import { describe, expect, it } from 'vitest'
import { effects, emptyProject, flux, statusJson } from './helpers.ts'

// A travel site built from three components: the app, @travel/images (a role `blobs`, fs or s3)
// and @travel/users (a role `meta`, fs), installed as npm lays packages out, or as pnpm does.
const migration = (id: string, store: string, extra = '') => `import { appendFileSync } from 'node:fs'
import { defineMigration } from '@flux/core'
export default defineMigration({
  store: '${store}',${extra}
  async up({ store }) {
    appendFileSync('effects.log', '${id}\\n')
    await store.put('${id.replaceAll('/', '_')}.txt', 'done')
  },
  async down({ store }) {
    await store.delete('${id.replaceAll('/', '_')}.txt')
  },
})
`

async function install(dir: string, name: string, flux: object, files: Record<string, string>, layout: 'npm' | 'pnpm') {
  const target =
    layout === 'npm'
      ? join(dir, 'node_modules', name)
      : join(dir, 'node_modules/.pnpm', `${name.replace('/', '+')}@1.2.0/node_modules`, name)
  await mkdir(join(target, 'migrations'), { recursive: true })
  await writeFile(join(target, 'package.json'), JSON.stringify({ name, version: '1.2.0', type: 'module', flux }))
  for (const [file, text] of Object.entries(files)) await writeFile(join(target, 'migrations', file), text)
  if (layout === 'pnpm') {
    await mkdir(join(dir, 'node_modules/@travel'), { recursive: true })
    await symlink(target, join(dir, 'node_modules', name))
  }
}

async function travelSite(layout: 'npm' | 'pnpm', images = 'photos', extraConfig = ''): Promise<string> {
  const dir = await emptyProject()
  await writeFile(
    join(dir, 'package.json'),
    JSON.stringify({
      name: 'travel-site',
      private: true,
      dependencies: { '@travel/images': '1.2.0', '@travel/users': '1.2.0', 'left-pad': '1.0.0' },
    }),
  )
  await mkdir(join(dir, 'node_modules/left-pad'), { recursive: true })
  await writeFile(
    join(dir, 'node_modules/left-pad/package.json'),
    JSON.stringify({ name: 'left-pad', version: '1.0.0' }),
  )
  await install(
    dir,
    '@travel/images',
    { migrations: './migrations', stores: { blobs: ['fs', 's3'] } },
    {
      '001_layout.js': migration('@travel/images/001_layout', 'blobs'),
      '002_thumbnails.js': migration('@travel/images/002_thumbnails', 'blobs'),
    },
    layout,
  )
  await install(
    dir,
    '@travel/users',
    { stores: { meta: ['fs'] } },
    {
      '001_users.js': migration('@travel/users/001_users', 'meta', "\n  after: ['@travel/images/002_thumbnails'],"),
    },
    layout,
  )
  await mkdir(join(dir, 'migrations'))
  await writeFile(
    join(dir, 'migrations/001_site.ts'),
    migration('app/001_site', 'files', "\n  after: ['@travel/users/001_users'],"),
  )
  await writeFile(
    join(dir, 'migrations/002_gallery.ts'),
    migration('app/002_gallery', 'files', "\n  parents: [],\n  after: ['@travel/images/001_layout'],"),
  )
  await writeFile(
    join(dir, 'flux.config.ts'),
    `import { defineConfig } from '@flux/core'
import { fsStore } from '@flux/fs'
export default defineConfig({
  stores: {
    files: fsStore({ root: './var/files' }),
    photos: fsStore({ root: './var/photos' }),
    archive: fsStore({ root: './var/archive' }),
  },
  components: {
    '@travel/images': { stores: { blobs: '${images}' } },
    '@travel/users': { stores: { meta: 'files' } },
  },${extraConfig}
})
`,
  )
  return dir
}

describe.each(['npm', 'pnpm'] as const)('an application of three components (%s layout)', (layout) => {
  it('plans and applies across components in an order that respects every edge', async () => {
    const dir = await travelSite(layout, 'photos', '\n  allowBranches: true,')
    const plan = JSON.parse((await flux(['plan', '--json'], dir)).stdout)
    expect(plan.steps.map((step: { id: string; store: string }) => [step.id, step.store])).toEqual([
      ['@travel/images/001_layout', 'photos'],
      ['app/002_gallery', 'files'],
      ['@travel/images/002_thumbnails', 'photos'],
      ['@travel/users/001_users', 'files'],
      ['app/001_site', 'files'],
    ])
    const up = await flux(['up'], dir)
    expect(up.code, up.stderr).toBe(0)
    const order = await effects(dir)
    const runsBefore = (first: string, second: string) =>
      expect(order.indexOf(first)).toBeLessThan(order.indexOf(second))
    runsBefore('@travel/images/001_layout', '@travel/images/002_thumbnails')
    runsBefore('@travel/images/002_thumbnails', '@travel/users/001_users')
    runsBefore('@travel/users/001_users', 'app/001_site')
    runsBefore('@travel/images/001_layout', 'app/002_gallery')
    expect(await readFile(join(dir, 'var/photos/@travel_images_001_layout.txt'), 'utf8')).toBe('done')
  })
})

describe('component bindings', () => {
  it('rebinding a component to another store runs its migrations on the new store only', async () => {
    const dir = await travelSite('npm')
    expect((await flux(['up'], dir)).code).toBe(0)
    const config = await readFile(join(dir, 'flux.config.ts'), 'utf8')
    await writeFile(join(dir, 'flux.config.ts'), config.replace("blobs: 'photos'", "blobs: 'archive'"))
    const status = await statusJson(dir)
    expect(status.filter((row) => row.status === 'pending').map((row) => row.id)).toEqual([
      '@travel/images/001_layout',
      '@travel/images/002_thumbnails',
    ])
    const up = await flux(['up'], dir)
    expect(up.code, up.stderr).toBe(0)
    expect((await effects(dir)).slice(5)).toEqual(['@travel/images/001_layout', '@travel/images/002_thumbnails'])
    expect(await readFile(join(dir, 'var/archive/@travel_images_002_thumbnails.txt'), 'utf8')).toBe('done')
  })

  it('an unbound role or a store of the wrong kind is a config error, and nothing runs', async () => {
    const unbound = await travelSite('npm')
    const config = await readFile(join(unbound, 'flux.config.ts'), 'utf8')
    await writeFile(
      join(unbound, 'flux.config.ts'),
      config.replace("'@travel/users': { stores: { meta: 'files' } },", ''),
    )
    const result = await flux(['up'], unbound)
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('component @travel/users needs its role "meta" bound to a store of kind fs')
    expect(await effects(unbound)).toEqual([])
  })

  it('a disabled component is left out; a retired store counts as satisfied', async () => {
    const dir = await travelSite('npm', 'photos', "\n  retired: ['legacy'],")
    const config = await readFile(join(dir, 'flux.config.ts'), 'utf8')
    await writeFile(join(dir, 'flux.config.ts'), config.replace("blobs: 'photos'", "blobs: 'legacy'"))
    const status = await statusJson(dir)
    expect(status.filter((row) => row.status === 'retired').map((row) => row.id)).toEqual([
      '@travel/images/001_layout',
      '@travel/images/002_thumbnails',
    ])
    // the text shows the retired store too, under its name
    const text = await flux(['status'], dir)
    expect(text.stdout).toContain(
      'legacy retired: its migrations count as done and never run\n  retired  @travel/images/001_layout\n',
    )
    const up = await flux(['up'], dir)
    expect(up.code, up.stderr).toBe(0)
    expect(await effects(dir)).toEqual(['app/002_gallery', '@travel/users/001_users', 'app/001_site'])

    const withoutUsers = await travelSite('npm')
    const usersOff = (await readFile(join(withoutUsers, 'flux.config.ts'), 'utf8')).replace(
      "'@travel/users': { stores: { meta: 'files' } },",
      "'@travel/users': { disabled: true },",
    )
    await writeFile(join(withoutUsers, 'flux.config.ts'), usersOff)
    expect((await flux(['up'], withoutUsers)).code).toBe(0)
    expect(await effects(withoutUsers)).not.toContain('@travel/users/001_users')
    expect((await statusJson(withoutUsers)).map((row) => row.id)).not.toContain('@travel/users/001_users')
  })

  it('drift in an installed package names the package and its version', async () => {
    const dir = await travelSite('npm')
    expect((await flux(['up'], dir)).code).toBe(0)
    const file = join(dir, 'node_modules/@travel/images/migrations/001_layout.js')
    await writeFile(file, `${await readFile(file, 'utf8')}// changed by an update\n`)
    const up = await flux(['up'], dir)
    expect(up.code).toBe(3)
    expect(up.stderr).toContain(
      'node_modules/@travel/images/migrations/001_layout.js (package @travel/images@1.2.0) changed after it was applied',
    )
  })

  it('graph --format mermaid gives a flowchart whose every node and edge is well formed', async () => {
    const dir = await travelSite('npm')
    const graph = await flux(['graph', '--format', 'mermaid'], dir)
    expect(graph.code, graph.stderr).toBe(0)
    const lines = graph.stdout.trimEnd().split('\n')
    expect(lines[0]).toBe('flowchart TD')
    const declared = new Set<string>()
    let depth = 0
    const edges: string[] = []
    for (const line of lines.slice(1)) {
      const subgraph = line.match(/^ {2}subgraph (c\d+)\["([^"]+)"\]$/)
      const node = line.match(/^ {4}(m\d+)\["([^"]+)"\]$/)
      const edge = line.match(/^ {2}(m\d+) (-->|-\.->) (m\d+)$/)
      if (subgraph) depth++
      else if (line === '  end') depth--
      else if (node) declared.add(node[1]!)
      else if (edge) edges.push(`${edge[1]}${edge[2]}${edge[3]}`)
      else throw new Error(`not a mermaid flowchart line: ${JSON.stringify(line)}`)
      expect(depth).toBeGreaterThanOrEqual(0)
    }
    expect(depth).toBe(0)
    expect(declared.size).toBe(5)
    for (const edge of edges) for (const id of edge.split(/-->|-\.->/)) expect(declared.has(id)).toBe(true)
    expect(edges).toHaveLength(4)
    expect(graph.stdout).toMatch(/subgraph c\d\["@travel\/images"\]/)
    expect(graph.stdout).toMatch(/subgraph c\d\["app"\]/)
  })
})

describe('down in an application of three components on three stores', () => {
  /** The ids each store's own ledger holds, read with the adapter, as the runner reads them. */
  async function ledgers(dir: string): Promise<Record<string, string[]>> {
    const result: Record<string, string[]> = {}
    for (const name of ['photos', 'archive', 'files']) {
      const store = fsStore({ root: join(dir, 'var', name) })
      await store.open()
      try {
        result[name] = (await store.ledger.read()).map((entry) => entry.id).sort()
      } finally {
        await store.close()
      }
    }
    return result
  }

  // @travel/images on photos, @travel/users on archive, the app on files; app/003_search above app/002_gallery
  async function site(): Promise<string> {
    const dir = await travelSite('npm')
    const config = await readFile(join(dir, 'flux.config.ts'), 'utf8')
    await writeFile(join(dir, 'flux.config.ts'), config.replace("meta: 'files'", "meta: 'archive'"))
    await writeFile(
      join(dir, 'migrations/003_search.ts'),
      migration('app/003_search', 'files', "\n  parents: ['002_gallery'],"),
    )
    const up = await flux(['up'], dir)
    expect(up.code, up.stderr).toBe(0)
    expect(await ledgers(dir)).toEqual({
      photos: ['@travel/images/001_layout', '@travel/images/002_thumbnails'],
      archive: ['@travel/users/001_users'],
      files: ['app/001_site', 'app/002_gallery', 'app/003_search'],
    })
    return dir
  }

  it('taking one component down one step leaves the other components applied', async () => {
    const dir = await site()
    const down = await flux(['down', 'app/002_gallery'], dir)
    expect(down.code, down.stderr).toBe(0)
    expect(down.stdout).toContain('app/003_search')
    expect(down.stdout).toContain('1 reverted')
    expect(await ledgers(dir)).toEqual({
      photos: ['@travel/images/001_layout', '@travel/images/002_thumbnails'],
      archive: ['@travel/users/001_users'],
      files: ['app/001_site', 'app/002_gallery'],
    })
  })

  it('a dependant in another component is reverted first and named with why', async () => {
    const dir = await site()
    const plan = JSON.parse((await flux(['plan', '--down', '@travel/images/001_layout', '--json'], dir)).stdout)
    expect(plan.steps.map((step: { id: string; reason: unknown }) => [step.id, step.reason])).toEqual([
      ['app/001_site', { kind: 'dependant', of: '@travel/users/001_users', via: 'after' }],
      ['@travel/users/001_users', { kind: 'dependant', of: '@travel/images/002_thumbnails', via: 'after' }],
      ['@travel/images/002_thumbnails', { kind: 'above', of: '@travel/images/001_layout' }],
    ])
    const refused = await flux(['down', '@travel/images/001_layout'], dir)
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain(
      'app/001_site is in another component (app): depends on @travel/users/001_users (after)',
    )
    expect(refused.stderr).toContain('pass --yes')
    expect((await ledgers(dir)).archive).toEqual(['@travel/users/001_users'])
    const down = await flux(['down', '@travel/images/001_layout', '--yes'], dir)
    expect(down.code, down.stderr).toBe(0)
    expect(down.stdout).toContain('@travel/users/001_users')
    expect(down.stdout).toContain('depends on @travel/images/002_thumbnails (after)')
    const lines = down.stdout.split('\n')
    const at = (id: string) => lines.findIndex((line) => line.includes(`reverted ${id}`))
    expect(at('@travel/users/001_users')).toBeGreaterThanOrEqual(0)
    expect(at('@travel/users/001_users')).toBeLessThan(at('@travel/images/002_thumbnails'))
    // app/002_gallery and app/003_search depend only on 001_layout, which stays: both stay applied
    expect(await ledgers(dir)).toEqual({
      photos: ['@travel/images/001_layout'],
      archive: [],
      files: ['app/002_gallery', 'app/003_search'],
    })
  })

  it('a target that is not applied, or more steps than are applied, is refused (exit 2) and nothing is reverted', async () => {
    const dir = await site()
    await flux(['down', 'app/002_gallery'], dir)
    const notApplied = await flux(['down', 'app/003_search'], dir)
    expect(notApplied.code).toBe(2)
    expect(notApplied.stderr).toContain('app/003_search is not applied')
    const tooMany = await flux(['down', '--steps', '9'], dir)
    expect(tooMany.code).toBe(2)
    expect(tooMany.stderr).toContain('only 5 migrations are applied')
    expect((await ledgers(dir)).files).toEqual(['app/001_site', 'app/002_gallery'])
  })

  it('relative targets and prefixes: `-1` over several heads is refused, `<component>@-1` is not', async () => {
    const dir = await site()
    const ambiguous = await flux(['down', '-1'], dir)
    expect(ambiguous.code).toBe(2)
    expect(ambiguous.stderr).toContain('"-1" is ambiguous: several heads are applied (')
    expect(ambiguous.stderr).toContain('@travel/images/002_thumbnails')
    const plan = JSON.parse((await flux(['plan', '--down', '@travel/images@-1', '--json'], dir)).stdout)
    expect(plan.steps.map((step: { id: string }) => step.id)).toEqual([
      'app/001_site',
      '@travel/users/001_users',
      '@travel/images/002_thumbnails',
    ])
    const prefix = await flux(['down', 'app/002'], dir)
    expect(prefix.code, prefix.stderr).toBe(0)
    expect((await ledgers(dir)).files).toEqual(['app/001_site', 'app/002_gallery'])
    const several = await flux(['down', 'app/00'], dir)
    expect(several.code).toBe(2)
    expect(several.stderr).toContain('target "app/00" is ambiguous: app/001_site, app/002_gallery, app/003_search')
  })

  it('history takes a range, as alembic history -r', async () => {
    const dir = await site()
    const history = await flux(['history', '@travel/images/002_thumbnails:', '--json'], dir)
    expect(history.code, history.stderr).toBe(0)
    expect(JSON.parse(history.stdout).migrations.map((row: { id: string }) => row.id)).toEqual([
      '@travel/images/002_thumbnails',
      '@travel/users/001_users',
      'app/001_site',
    ])
    const upTo = await flux(['history', ':app/002_gallery'], dir)
    expect(upTo.stdout).toContain('@travel/images/001_layout')
    expect(upTo.stdout).not.toContain('app/003_search')
    expect((await flux(['history', 'app/003_search:app/002_gallery'], dir)).code).toBe(2)
  })

  it('flux new --head --after writes the parent and a dependency on another component', async () => {
    const dir = await site()
    const refused = await flux(['new', 'covers', '--store', 'files'], dir)
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('app has 2 heads (app/001_site, app/003_search)')
    const created = await flux(
      ['new', 'covers', '--store', 'files', '--head', '003_search', '--after', '@travel/images/001_layout'],
      dir,
    )
    expect(created.code, created.stderr).toBe(0)
    const file = created.stdout.match(/created (\S+covers\.ts)/)![1]!
    const text = await readFile(join(dir, file), 'utf8')
    expect(text).toContain("parents: ['003_search'],")
    expect(text).toContain("after: ['@travel/images/001_layout'],")
    expect((await statusJson(dir)).find((row) => row.id.endsWith('_covers'))?.status).toBe('pending')
  })

  it('graph --down marks what down <target> would revert, and reverts nothing', async () => {
    const dir = await site()
    const graph = await flux(['graph', '--down', '@travel/images/001_layout'], dir)
    expect(graph.code, graph.stderr).toBe(0)
    const marked = graph.stdout.split('\n').filter((line) => line.includes('down reverts'))
    expect(marked.map((line) => line.match(/\["([^<]+)</)![1]).sort()).toEqual([
      '001_site',
      '001_users',
      '002_thumbnails',
    ])
    expect((await ledgers(dir)).archive).toEqual(['@travel/users/001_users'])
  })

  it('`<component>@base` takes one component down with its dependants, and nothing else', async () => {
    const dir = await site()
    const down = await flux(['down', '@travel/users@base', '--yes'], dir)
    expect(down.code, down.stderr).toBe(0)
    expect(await ledgers(dir)).toEqual({
      photos: ['@travel/images/001_layout', '@travel/images/002_thumbnails'],
      archive: [],
      files: ['app/002_gallery', 'app/003_search'],
    })
  })
})
