import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { open, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { countingMigration, FLUX_BIN, project } from './helpers.ts'

// Off a terminal, flux writes stdout's lines in batches; what a user reads in a file that
// receives both stdout and stderr (`flux up > log 2>&1`, a CI log) must still be every line,
// in the order flux wrote them.
it('writes every line to a file that receives stdout and stderr both, in order, when a migration fails', async () => {
  const migrations: Record<string, string> = {}
  for (let index = 1; index <= 40; index++) {
    const name = `${String(index).padStart(4, '0')}_step`
    migrations[`${name}.ts`] = countingMigration(name)
  }
  migrations['0041_broken.ts'] = `import { defineMigration } from '@flux/core'
export default defineMigration({
  store: 'files',
  async up() {
    throw new Error('the broken step')
  },
})
`
  const dir = await project(migrations)
  const log = await open(join(dir, 'run.log'), 'w')
  const child = spawn(process.execPath, [FLUX_BIN, 'up'], {
    cwd: dir,
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', log.fd, log.fd],
  })
  const [code] = await once(child, 'close')
  await log.close()
  expect(code).toBe(1)

  const lines = (await readFile(join(dir, 'run.log'), 'utf8')).split('\n')
  const applied = lines.filter((line) => /applied\s+\S*_step/.test(line))
  expect(applied).toHaveLength(40)
  // stdout's lines, then stderr's error: the order flux wrote them in
  const order = [
    lines.findIndex((line) => /applied\s+\S*0001_step/.test(line)),
    lines.findIndex((line) => /applied\s+\S*0040_step/.test(line)),
    lines.findIndex((line) => /failed\s+\S*0041_broken/.test(line)),
    lines.indexOf('40 applied, 1 failed'),
    lines.findIndex((line) => line.startsWith('error: ') && line.includes('the broken step')),
  ]
  expect(order.every((index) => index >= 0)).toBe(true)
  expect([...order].sort((a, b) => a - b)).toEqual(order)
  // the failure is reported once, and nothing is printed twice
  expect(new Set(applied).size).toBe(40)
})
