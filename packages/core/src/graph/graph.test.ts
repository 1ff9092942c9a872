import { describe, expect, it } from 'vitest'
import { FluxError } from '../errors.ts'
import type { LoadedMigration } from '../load-migrations.ts'
import { defineMigration } from '../migration.ts'
import { buildGraph } from './graph.ts'

const up = async () => {}

function migration(component: string, name: string, definition: Record<string, unknown> = {}): LoadedMigration {
  return {
    id: `${component}/${name}`,
    component,
    name,
    file: `/p/${component}/${name}.ts`,
    displayFile: `migrations/${name}.ts`,
    checksum: `sha256:${name}`,
    definition: defineMigration({ store: 'files', up, ...definition } as never),
  }
}

function errorOf(run: () => unknown): FluxError {
  try {
    run()
  } catch (error) {
    if (FluxError.is(error)) return error
    throw error
  }
  throw new Error('expected a FluxError')
}

describe('bare names in after', () => {
  it("name another component's migration by its file name, or its name without the timestamp, where unique", () => {
    const graph = buildGraph(
      [
        migration('lib', '20260101000000_init'),
        migration('app', '001_a', { after: ['20260101000000_init'] }),
        migration('app', '002_b', { after: ['init'] }),
      ],
      ['files'],
    )
    expect(graph.byId.get('app/001_a')!.after).toEqual(['lib/20260101000000_init'])
    expect(graph.byId.get('app/002_b')!.after).toEqual(['lib/20260101000000_init'])
    expect(graph.nodes.map((node) => node.id)).toEqual(['lib/20260101000000_init', 'app/001_a', 'app/002_b'])
  })

  it('refuses a bare name that several components share, naming them', () => {
    const error = errorOf(() =>
      buildGraph(
        [migration('lib', '001_init'), migration('media', '001_init'), migration('app', '001_a', { after: ['init'] })],
        ['files'],
      ),
    )
    expect([error.code, error.message]).toEqual([
      'GRAPH_INVALID',
      'migrations/001_a.ts: `after` name "init" is ambiguous: lib/001_init, media/001_init',
    ])
  })
})

describe('buildGraph', () => {
  it('chains files of a component in file order when no parents are written', () => {
    const graph = buildGraph(
      [migration('app', '001_a'), migration('app', '002_b'), migration('app', '003_c')],
      ['files'],
    )
    expect(graph.nodes.map((node) => node.id)).toEqual(['app/001_a', 'app/002_b', 'app/003_c'])
    expect(graph.byId.get('app/003_c')!.parents).toEqual(['app/002_b'])
    expect(graph.byId.get('app/001_a')!.parents).toEqual([])
  })

  it('orders by edges first, then component order, then file name', () => {
    const graph = buildGraph(
      [
        migration('app', '001_a', { after: ['lib/001_x'] }),
        migration('app', '002_b'),
        migration('lib', '001_x'),
        migration('lib', '002_y', { parents: [] }),
      ],
      ['files'],
    )
    expect(graph.nodes.map((node) => node.id)).toEqual(['lib/001_x', 'app/001_a', 'app/002_b', 'lib/002_y'])
  })

  it('names both files of a duplicate id', () => {
    const error = errorOf(() => buildGraph([migration('app', '001_a'), migration('app', '001_a')], ['files']))
    expect(error.code).toBe('GRAPH_INVALID')
    expect(error.message).toContain('duplicate migration id "app/001_a"')
    expect(error.exitCode).toBe(2)
  })

  it('names the file and the unknown parent', () => {
    const error = errorOf(() =>
      buildGraph([migration('app', '001_a'), migration('app', '002_b', { parents: ['000_gone'] })], ['files']),
    )
    expect(error.message).toBe('migrations/002_b.ts: unknown parent "app/000_gone"')
    expect(error.file).toBe('migrations/002_b.ts')
  })

  it('prints the path of a cycle', () => {
    const error = errorOf(() =>
      buildGraph(
        [
          migration('app', '001_a', { parents: ['003_c'] }),
          migration('app', '002_b', { parents: ['001_a'] }),
          migration('app', '003_c', { parents: ['002_b'] }),
        ],
        ['files'],
      ),
    )
    expect(error.code).toBe('GRAPH_INVALID')
    expect(error.message).toMatch(/cycle in the migration graph: app\/00\d_\w → .* → app\/00\d_\w/)
    const cycle = error.details!.cycle as string[]
    expect(cycle[0]).toBe(cycle.at(-1))
    expect(new Set(cycle)).toEqual(new Set(['app/001_a', 'app/002_b', 'app/003_c']))
  })

  it('refuses an unknown store, in store and in uses, listing the configured ones', () => {
    const home = errorOf(() => buildGraph([migration('app', '001_a', { store: 'photo' })], ['files', 'photos']))
    expect(home.message).toBe('migrations/001_a.ts: unknown store "photo" in `store`')
    expect(home.hint).toContain('files, photos')
    const uses = errorOf(() => buildGraph([migration('app', '001_a', { uses: ['cache'] })], ['files']))
    expect(uses.message).toContain('unknown store "cache" in `uses`')
  })

  it('refuses bad metadata, naming the key', () => {
    expect(errorOf(() => buildGraph([migration('app', '001_a', { parent: ['x'] })], ['files'])).message).toContain(
      '`parent`',
    )
    expect(errorOf(() => buildGraph([migration('app', '001_a', { up: 'nope' })], ['files'])).message).toContain(
      '`up` must be a function',
    )
    expect(errorOf(() => buildGraph([migration('app', '001_a', { repeatable: 'yes' })], ['files'])).code).toBe(
      'MIGRATION_INVALID',
    )
    expect(errorOf(() => buildGraph([migration('app', '001_a', { transaction: 1 })], ['files'])).message).toContain(
      '`transaction`',
    )
  })
})
