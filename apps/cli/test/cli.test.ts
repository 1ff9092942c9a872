import { describe, expect, it } from 'vitest'
import { countingMigration, emptyProject, flux, project } from './helpers.ts'

const COMMANDS = [
  'init',
  'new',
  'status',
  'plan',
  'up',
  'down',
  'verify',
  'sum',
  'resolve',
  'unlock',
  'heads',
  'merge',
  'history',
  'graph',
  'mark',
  'baseline',
]

describe('the flux command', () => {
  it('lists every command and the exit codes in --help', async () => {
    const dir = await emptyProject()
    const help = await flux(['--help'], dir)
    expect(help.code).toBe(0)
    for (const command of COMMANDS) expect(help.stdout).toMatch(new RegExp(`^  ${command} `, 'm'))
    expect(help.stdout).toContain('4    a lease could not be acquired in time')
    expect(help.stdout).toContain('130  cancelled (Ctrl-C) with something left undone')
  })

  it('has --help on every command, without needing a config', async () => {
    const dir = await emptyProject()
    for (const command of COMMANDS) {
      const help = await flux([command, '--help'], dir)
      expect(help.code, command).toBe(0)
      expect(help.stdout).toMatch(new RegExp(`^Usage: flux ${command}`))
      expect(help.stdout).toContain('--config <file>')
    }
  })

  it('exits 2 on an unknown command, option, or missing argument', async () => {
    const dir = await emptyProject()
    expect((await flux(['upp'], dir)).code).toBe(2)
    const option = await flux(['up', '--force'], dir)
    expect(option.code).toBe(2)
    expect(option.stderr).toContain('error: unknown option --force for flux up')
    expect((await flux(['down'], await project({}))).code).toBe(2)
    expect((await flux(['down', '--steps', 'x'], await project({}))).code).toBe(2)
  })

  it('prints no colour when stdout is not a terminal, and one JSON document with --json', async () => {
    const dir = await project({ '001_a.ts': countingMigration('001_a') })
    const plan = await flux(['plan', '--json'], dir)
    expect(plan.code).toBe(0)
    expect(JSON.parse(plan.stdout)).toMatchObject({
      direction: 'up',
      steps: [{ id: 'app/001_a', store: 'files', action: 'apply' }],
      stores: ['files'],
    })
    const up = await flux(['up', '--json'], dir)
    expect(JSON.parse(up.stdout)).toMatchObject({ ok: true, steps: [{ id: 'app/001_a', status: 'applied' }] })
    const status = await flux(['status'], dir)
    expect(status.stdout).not.toContain('\u001b[')
    const verify = await flux(['verify', '--json'], dir)
    expect(verify.code).toBe(3)
    expect(JSON.parse(verify.stdout).sums[0].message).toContain('flux.sum is missing')
    const down = await flux(['down', 'base', '--json'], dir)
    expect(JSON.parse(down.stdout)).toMatchObject({ ok: true, steps: [{ id: 'app/001_a', status: 'reverted' }] })
  })

  it('unknown target and ambiguous names exit 2', async () => {
    const dir = await project({ '001_a.ts': countingMigration('001_a') })
    const result = await flux(['up', 'nope'], dir)
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('no migration is named "nope"')
  })
})
