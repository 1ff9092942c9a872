import { writeFile } from 'node:fs/promises'
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

const HANGING = waitingMigration('002_slow')

describe('a runner killed with SIGKILL inside a migration', () => {
  it('leaves it dirty; up exits 3 until resolve; nothing is applied twice', async () => {
    const dir = await project({
      '001_a.ts': countingMigration('001_a'),
      '002_slow.ts': HANGING,
      '003_c.ts': countingMigration('003_c'),
    })
    const child = start(['up'], dir)
    const done = finish(child)
    await waitFor(() => exists(join(dir, 'started.flag')), 'the migration to start')
    child.kill('SIGKILL')
    expect((await done).signal).toBe('SIGKILL')

    expect((await statusJson(dir)).map((row) => [row.id, row.status])).toEqual([
      ['app/001_a', 'applied'],
      ['app/002_slow', 'dirty'],
      ['app/003_c', 'pending'],
    ])
    const blocked = await flux(['up'], dir)
    expect(blocked.code).toBe(3)
    expect(blocked.stderr).toContain(
      'app/002_slow (migrations/002_slow.ts) started in store "files" and never finished',
    )
    expect(blocked.stderr).toContain('flux resolve')

    // the migration did finish its work in the store before the crash? here it did not: roll it back, let it run again
    await writeFile(join(dir, 'go.flag'), '')
    expect((await flux(['resolve', '002_slow', '--rolled-back'], dir)).code).toBe(0)
    const up = await flux(['up'], dir)
    expect(up.code, up.stderr).toBe(0)
    expect(await effects(dir)).toEqual(['001_a', '002_slow', '003_c'])
    expect((await statusJson(dir)).every((row) => row.status === 'applied')).toBe(true)
  })

  it('resolve --applied records it without running it again', async () => {
    const dir = await project({ '001_slow.ts': HANGING.replaceAll('002_slow', '001_slow') })
    const child = start(['up'], dir)
    const done = finish(child)
    await waitFor(() => exists(join(dir, 'started.flag')), 'the migration to start')
    child.kill('SIGKILL')
    await done
    expect((await flux(['resolve', '001_slow', '--applied'], dir)).code).toBe(0)
    const up = await flux(['up'], dir)
    expect(up.code).toBe(0)
    expect(up.stdout).toContain('nothing to apply')
    expect(await effects(dir)).toEqual([])
    expect((await flux(['resolve', '001_slow', '--applied'], dir)).code).toBe(2)
  })
})
