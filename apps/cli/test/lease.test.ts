import { writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
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
  waitFor,
  waitingMigration,
} from './helpers.ts'

const SLOW = waitingMigration('001_slow')

describe('a runner that finds the lease held', () => {
  it('waits, says who holds it, and gives up with exit 4 after the wait', async () => {
    const dir = await project({ '001_slow.ts': SLOW }, { lease: '{ waitMs: 1500 }' })
    const holder = start(['up'], dir)
    const holderDone = finish(holder)
    await waitFor(() => exists(join(dir, 'started.flag')), 'the first runner to start')
    const waiter = await flux(['up'], dir)
    expect(waiter.code).toBe(4)
    expect(waiter.stderr).toContain(`waiting for store "files": leased by pid ${holder.pid} on ${hostname()}`)
    expect(waiter.stderr).toContain(`pid ${holder.pid} on ${hostname()} since`)
    expect(waiter.stderr).toContain('flux unlock files')
    await writeFile(join(dir, 'go.flag'), '')
    expect((await holderDone).code).toBe(0)
    expect(await effects(dir)).toEqual(['001_slow'])
  })

  it('unlock frees the lease of a frozen runner', async () => {
    const dir = await project(
      { '001_slow.ts': SLOW, '002_b.ts': countingMigration('002_b') },
      { lease: '{ waitMs: 1000, ttlMs: 600000 }' },
    )
    const holder = start(['up', '001_slow'], dir)
    const holderDone = finish(holder)
    await waitFor(() => exists(join(dir, 'started.flag')), 'the first runner to start')
    holder.kill('SIGSTOP')
    try {
      expect((await flux(['up'], dir)).code).toBe(4)
      const unlock = await flux(['unlock', 'files'], dir)
      expect(unlock.code, unlock.stderr).toBe(0)
      expect(unlock.stdout).toContain(`was held by pid ${holder.pid}`)
      // the frozen runner's migration is dirty now that nobody holds the lease
      const up = await flux(['up'], dir)
      expect(up.code).toBe(3)
      expect(up.stderr).toContain('app/001_slow')
      expect((await flux(['unlock', 'files'], dir)).stdout).toContain('was not leased')
    } finally {
      holder.kill('SIGKILL')
      await holderDone
    }
  })
})
