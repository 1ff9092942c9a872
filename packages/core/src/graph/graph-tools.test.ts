import { describe, expect, it } from 'vitest'
import { FluxError } from '../errors.ts'
import type { LoadedMigration } from '../load-migrations.ts'
import { defineMigration } from '../migration.ts'
import { buildGraph } from './graph.ts'
import { toDot, toMermaid } from './graph-tools.ts'

const up = async () => {}

function migration(name: string, definition: Record<string, unknown> = {}): LoadedMigration {
  return {
    id: `app/${name}`,
    component: 'app',
    name,
    file: `/p/app/${name}.ts`,
    displayFile: `migrations/${name}.ts`,
    checksum: `sha256:${name}`,
    definition: defineMigration({ store: 'catalog', up, ...definition } as never),
  }
}

const STORES = ['catalog', 'photos', 'search']

describe('graph drawings', () => {
  const graph = buildGraph(
    [
      migration('001_hotels'),
      migration('002_copy_photos', { uses: ['photos'] }),
      migration('003_index', { uses: ['search', 'photos'] }),
    ],
    STORES,
  )

  it('mermaid: a store a migration uses is a node of its own, reached by a dotted "uses" edge', () => {
    const text = toMermaid(graph)
    expect(text).toContain('  s0[("photos")]')
    expect(text).toContain('  s1[("search")]')
    expect(text).not.toContain('("catalog")')
    expect(text).toContain('  m1 -. uses .-> s0')
    expect(text).toContain('  m2 -. uses .-> s0')
    expect(text).toContain('  m2 -. uses .-> s1')
    expect(text).toContain('  m0 --> m1')
  })

  it('dot: used stores are cylinders, and uses edges dotted and labelled', () => {
    const text = toDot(graph)
    expect(text).toContain('"store:photos" [label="photos", shape=cylinder];')
    expect(text).toContain('"app/003_index" -> "store:search" [style=dotted, label="uses"];')
    expect(text).toContain('"app/001_hotels" -> "app/002_copy_photos";')
  })
})

describe('destroysData', () => {
  it('takes true, false or a sentence; anything else names the file', () => {
    expect(() => buildGraph([migration('001_a', { destroysData: 'drops the hotel table' })], STORES)).not.toThrow()
    expect(() => buildGraph([migration('001_a', { destroysData: true })], STORES)).not.toThrow()
    let error: unknown
    try {
      buildGraph([migration('001_a', { destroysData: 1 })], STORES)
    } catch (caught) {
      error = caught
    }
    expect(FluxError.is(error) && error.code).toBe('MIGRATION_INVALID')
    expect((error as Error).message).toContain('destroysData')
    expect((error as Error).message).toContain('migrations/001_a.ts')
  })
})
