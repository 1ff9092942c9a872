import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { checkSum, SUM_FILE, writeSum } from './sum.ts'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flux-sum-'))
  await writeFile(join(dir, '001_a.ts'), 'export default 1\n')
  await writeFile(join(dir, '002_b.ts'), 'export default 2\n')
})
afterEach(() => rm(dir, { recursive: true, force: true }))

describe('flux.sum', () => {
  it('lists every file with its checksum after a total line, and matches its folder', async () => {
    await writeSum(dir)
    const lines = (await readFile(join(dir, SUM_FILE), 'utf8')).trimEnd().split('\n')
    expect(lines[0]).toMatch(/^total sha256:[0-9a-f]{64}$/)
    expect(lines.slice(1).map((line) => line.split(' ')[0])).toEqual(['001_a.ts', '002_b.ts'])
    expect(await checkSum(dir, 'migrations')).toEqual([])
  })

  it('names a changed, an added and a removed file', async () => {
    await writeSum(dir)
    await writeFile(join(dir, '001_a.ts'), 'export default 10\n')
    await writeFile(join(dir, '003_c.ts'), 'export default 3\n')
    await rm(join(dir, '002_b.ts'))
    const messages = (await checkSum(dir, 'migrations')).map((problem) => problem.message)
    expect(messages).toEqual([
      'migrations/001_a.ts changed since migrations/flux.sum was written',
      'migrations/003_c.ts is not in migrations/flux.sum',
      'migrations/002_b.ts is in migrations/flux.sum but the file is gone',
    ])
  })

  it('ignores line endings, so a Windows checkout matches', async () => {
    await writeSum(dir)
    await writeFile(join(dir, '001_a.ts'), 'export default 1\r\n')
    expect(await checkSum(dir, 'migrations')).toEqual([])
  })

  it('sees merge conflict markers and a total edited by hand', async () => {
    await writeSum(dir)
    const text = await readFile(join(dir, SUM_FILE), 'utf8')
    await writeFile(join(dir, SUM_FILE), text.replace(/^total sha256:./, 'total sha256:0'))
    expect((await checkSum(dir, 'm'))[0]!.message).toContain('edited by hand')
    await writeFile(join(dir, SUM_FILE), `<<<<<<< HEAD\n${text}=======\n${text}>>>>>>> branch\n`)
    expect((await checkSum(dir, 'm'))[0]!.message).toContain('merge conflict')
  })

  it('asks for a sum when a folder with migrations has none', async () => {
    expect((await checkSum(dir, 'migrations'))[0]!.message).toBe(
      'migrations/flux.sum is missing; run `flux sum` to write it',
    )
  })
})
