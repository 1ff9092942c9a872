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

const SLOW = waitingMigration('002_slow')

describe.each(['SIGINT', 'SIGTERM'] as const)('%s during a run', (signal) => {
  it('lets the running step finish, stops before the next, releases the lease', async () => {
    const dir = await project({
      '001_a.ts': countingMigration('001_a'),
      '002_slow.ts': SLOW,
      '003_c.ts': countingMigration('003_c'),
    })
    const child = start(['up'], dir)
    const done = finish(child)
    let stderr = ''
    child.stderr!.on('data', (chunk) => {
      stderr += chunk
    })
    await waitFor(() => exists(join(dir, 'started.flag')), 'the slow migration to start')
    child.kill(signal)
    // the runner has seen the signal before the step is let finish
    await waitFor(() => stderr.includes('stopping after the current step'), 'the runner to see the signal')
    await writeFile(join(dir, 'go.flag'), '')
    const result = await done
    // something was left undone: the shell's code for a process the signal ended
    expect(result.code).toBe(signal === 'SIGINT' ? 130 : 143)
    expect(result.stderr).toContain(`${signal}: stopping after the current step`)
    expect(result.stdout).toContain('cancelled: 2 applied, 1 not started (app/003_c)')
    expect(await effects(dir)).toEqual(['001_a', '002_slow'])
    expect((await statusJson(dir)).map((row) => row.status)).toEqual(['applied', 'applied', 'pending'])
    expect(await exists(join(dir, 'var/files/.flux/lease.json'))).toBe(false)
    const again = await flux(['up'], dir)
    expect(again.code).toBe(0)
    expect(await effects(dir)).toEqual(['001_a', '002_slow', '003_c'])
  })
})
