import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  countingMigration,
  effects,
  exists,
  finish,
  flux,
  project,
  start,
  statusJson,
  waitFor,
  waitingMigration,
} from './helpers.ts'

async function ledger(dir: string): Promise<{ id: string; status: string }[]> {
  const lines = (await readFile(join(dir, 'var/files/.flux/ledger.jsonl'), 'utf8')).trim().split('\n').slice(1)
  const entries = new Map<string, { id: string; status: string }>()
  for (const line of lines.map((text) => JSON.parse(text))) {
    if (line.record) {
      entries.delete(line.record.id)
      entries.set(line.record.id, { id: line.record.id, status: line.record.status })
    } else entries.delete(line.remove)
  }
  return [...entries.values()]
}

const three = () => ({
  '001_a.ts': countingMigration('001_a'),
  '002_b.ts': countingMigration('002_b'),
  '003_c.ts': countingMigration('003_c'),
})

describe('lifecycle commands', () => {
  it('baseline records a migration and its ancestors as applied without running them', async () => {
    const dir = await project(three())
    const result = await flux(['baseline', '002_b'], dir)
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toContain('2 migrations recorded as applied')
    expect(await ledger(dir)).toEqual([
      { id: 'app/001_a', status: 'applied' },
      { id: 'app/002_b', status: 'applied' },
    ])
    expect((await flux(['up'], dir)).code).toBe(0)
    expect(await effects(dir)).toEqual(['003_c'])
  })

  it('mark --applied needs applied parents; mark --pending refuses while dependents are applied', async () => {
    const dir = await project(three())
    const early = await flux(['mark', '002_b', '--applied'], dir)
    expect(early.code).toBe(2)
    expect(early.stderr).toContain('depends on app/001_a, which are not applied')
    expect((await flux(['mark', '001_a', '--applied'], dir)).code).toBe(0)
    expect(await ledger(dir)).toEqual([{ id: 'app/001_a', status: 'applied' }])
    expect((await flux(['up'], dir)).code).toBe(0)
    expect(await effects(dir)).toEqual(['002_b', '003_c'])
    const blocked = await flux(['mark', '002_b', '--pending'], dir)
    expect(blocked.code).toBe(2)
    expect(blocked.stderr).toContain('app/003_c depend on it')
    expect((await flux(['mark', '003_c', '--pending'], dir)).code).toBe(0)
    expect((await ledger(dir)).map((entry) => entry.id)).toEqual(['app/001_a', 'app/002_b'])
    expect((await statusJson(dir)).map((row) => row.status)).toEqual(['applied', 'applied', 'pending'])
  })

  it('resolve --auto records what verify() finds, and leaves the unsure ones dirty', async () => {
    const verified = waitingMigration('001_slow').replace(
      '  async down(',
      `  async verify({ store }) {
    return store.exists('001_slow.txt')
  },
  async down(`,
    )
    const dir = await project({ '001_slow.ts': verified })
    const child = start(['up'], dir)
    const done = finish(child)
    await waitFor(() => exists(join(dir, 'started.flag')), 'the migration to start')
    child.kill('SIGKILL')
    await done
    const resolved = await flux(['resolve', '--auto'], dir)
    expect(resolved.code, resolved.stderr).toBe(0)
    expect(resolved.stdout).toContain('app/001_slow: recorded as rolled-back')
    expect(await ledger(dir)).toEqual([])
  })

  it('history lists applied migrations in order; heads and graph show the graph', async () => {
    const dir = await project({
      ...three(),
      '004_d.ts': countingMigration('004_d').replace("store: 'files',", "store: 'files', parents: ['002_b'],"),
    })
    expect((await flux(['up'], dir)).code).toBe(0)
    const history = await flux(['history'], dir)
    expect(
      history.stdout
        .trim()
        .split('\n')
        .map((line) => line.split(/\s+/)[2]),
    ).toEqual(['app/001_a', 'app/002_b', 'app/003_c', 'app/004_d'])
    const heads = await flux(['heads', '--json'], dir)
    expect(JSON.parse(heads.stdout)).toEqual({ components: [{ component: 'app', heads: ['app/003_c', 'app/004_d'] }] })
    expect((await flux(['verify'], dir)).stdout).toContain('app has 2 heads')
    const merged = await flux(['merge'], dir)
    expect(merged.code, merged.stderr).toBe(0)
    const names = (await readdir(join(dir, 'migrations'))).filter((name) => name.endsWith('_merge-heads.ts'))
    expect(names).toHaveLength(1)
    expect(await readFile(join(dir, 'migrations', names[0]!), 'utf8')).toContain("parents: ['003_c', '004_d']")
    expect(JSON.parse((await flux(['heads', '--json'], dir)).stdout).components[0].heads).toHaveLength(1)
    const graph = await flux(['graph'], dir)
    expect(graph.stdout).toMatch(/^flowchart TD\n {2}subgraph c0\["app"\]/)
    expect(graph.stdout).toContain('m1 --> m2')
    expect(graph.stdout).toContain('m1 --> m3')
  })
})
