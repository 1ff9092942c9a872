import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FluxError } from './errors.ts'
import {
  assertSumsMatch,
  checkSum,
  isInstalledPackageDir,
  SUM_FILE,
  sumMismatches,
  updateSum,
  writeSum,
} from './sum.ts'

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

describe('the check before `up` and `down`', () => {
  it('passes a folder that matches its sum, and one without a sum', async () => {
    const cwd = dirname(dir)
    await expect(assertSumsMatch([{ dir }], [], cwd)).resolves.toBeUndefined()
    await writeSum(dir)
    await expect(assertSumsMatch([{ dir }], [], cwd)).resolves.toBeUndefined()
    expect(await sumMismatches([{ dir }], [], cwd)).toEqual([])
  })

  it('refuses a folder that no longer matches: SUM_MISMATCH (exit 3), naming the folder and the files', async () => {
    await writeSum(dir)
    await writeFile(join(dir, '001_a.ts'), 'export default 10\n')
    const cwd = dirname(dir)
    const folder = dir.slice(cwd.length + 1)
    const error = await assertSumsMatch([{ dir }], [], cwd).catch((caught: unknown) => caught)
    expect(FluxError.is(error)).toBe(true)
    expect(error).toMatchObject({
      code: 'SUM_MISMATCH',
      exitCode: 3,
      message: `migrations folder ${folder}/ does not match its flux.sum: ${folder}/001_a.ts changed since ${folder}/flux.sum was written`,
      file: `${folder}/001_a.ts`,
      details: { folders: [`${folder}/`] },
    })
    expect((error as FluxError).hint).toContain('`flux sum`')
    expect(await sumMismatches([{ dir }], [], cwd)).toEqual([
      { file: `${folder}/001_a.ts`, message: `${folder}/001_a.ts changed since ${folder}/flux.sum was written` },
    ])
  })

  it('names the first three problems and counts the rest', async () => {
    await writeSum(dir)
    for (const name of ['003_c', '004_d', '005_e', '006_f']) await writeFile(join(dir, `${name}.ts`), 'export {}\n')
    const error = (await assertSumsMatch([{ dir }], [], dir).catch((caught: unknown) => caught)) as FluxError
    expect(error.message).toBe(
      'migrations folder ./ does not match its flux.sum: 003_c.ts is not in flux.sum; 004_d.ts is not in flux.sum; 005_e.ts is not in flux.sum; 1 more (`flux verify` lists them)',
    )
    expect(error.details?.problems).toHaveLength(4)
  })
})

describe('updating the lines of some files (`flux accept`)', () => {
  it('takes the named file as it is now and leaves every other line as recorded', async () => {
    await writeSum(dir)
    await writeFile(join(dir, '001_a.ts'), 'export default 10\n')
    await writeFile(join(dir, '002_b.ts'), 'export default 20\n')
    await updateSum(dir, ['001_a.ts'])
    expect((await checkSum(dir, 'm')).map((problem) => problem.message)).toEqual([
      'm/002_b.ts changed since m/flux.sum was written',
    ])
    await updateSum(dir, ['002_b.ts'])
    expect(await checkSum(dir, 'm')).toEqual([])
  })

  it('writes the whole sum in a folder that has none, and refuses one with conflict markers', async () => {
    await updateSum(dir, ['001_a.ts'])
    expect(await checkSum(dir, 'm')).toEqual([])
    const text = await readFile(join(dir, SUM_FILE), 'utf8')
    await writeFile(join(dir, SUM_FILE), `<<<<<<< HEAD\n${text}=======\n${text}>>>>>>> branch\n`)
    await expect(updateSum(dir, ['001_a.ts'])).rejects.toMatchObject({
      code: 'SUM_MISMATCH',
      message: expect.stringContaining('has merge conflict markers'),
    })
  })
})

describe('folders of installed packages', () => {
  it('are those whose real path goes through node_modules: a linked workspace package is not one', async () => {
    const installed = join(dir, 'node_modules', '@travel', 'images', 'migrations')
    const workspace = join(dir, 'packages', 'images', 'migrations')
    await mkdir(installed, { recursive: true })
    await mkdir(workspace, { recursive: true })
    await symlink(join(dir, 'packages', 'images'), join(dir, 'node_modules', 'images-linked'))
    expect(await isInstalledPackageDir(installed)).toBe(true)
    expect(await isInstalledPackageDir(join(installed, 'not-yet'))).toBe(true)
    expect(await isInstalledPackageDir(join(dir, 'node_modules', 'images-linked', 'migrations'))).toBe(false)
    expect(await isInstalledPackageDir(workspace)).toBe(false)
  })

  it('never get a flux.sum written', async () => {
    const installed = join(dir, 'node_modules', 'images', 'migrations')
    await mkdir(installed, { recursive: true })
    await writeFile(join(installed, '001_a.ts'), 'export default 1\n')
    for (const write of [() => writeSum(installed), () => updateSum(installed, ['001_a.ts'])]) {
      await expect(write()).rejects.toMatchObject({
        code: 'USAGE',
        message: expect.stringContaining('is inside node_modules: flux does not write flux.sum there'),
      })
    }
    await expect(readFile(join(installed, SUM_FILE))).rejects.toMatchObject({ code: 'ENOENT' })
  })
})
