import { createHash } from 'node:crypto'
import { access, readFile } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'
import { FluxError } from './errors.ts'
import { type Component, checksumOf, listMigrationFiles } from './load-migrations.ts'
import { writeFileAtomic } from './write-file-atomic.ts'

/** Name of the integrity file in each migrations folder. */
export const SUM_FILE = 'flux.sum'

export interface SumProblem {
  file: string
  message: string
}

/**
 * Text of a folder's `flux.sum`: a `total` line first, then one `<file> <checksum>` line per
 * migration file. The total changes with every added file, so two branches that each add a
 * migration conflict on it under git, and the conflict is seen before deploy.
 */
export function formatSum(files: readonly { fileName: string; checksum: string }[]): string {
  const lines = [...files]
    .sort((a, b) => (a.fileName < b.fileName ? -1 : a.fileName > b.fileName ? 1 : 0))
    .map((file) => `${file.fileName} ${file.checksum}`)
  const total = createHash('sha256').update(lines.join('\n')).digest('hex')
  return `total sha256:${total}\n${lines.map((line) => `${line}\n`).join('')}`
}

/** The checksums of a folder's migration files, as they are on disk now. */
export async function checksumsOf(
  dir: string,
  extensions: Iterable<string> = [],
): Promise<{ fileName: string; checksum: string }[]> {
  const files = await listMigrationFiles(dir, extensions)
  return Promise.all(
    files.map(async (file) => ({ fileName: file.fileName, checksum: checksumOf(await readFile(file.file)) })),
  )
}

/** Writes the folder's `flux.sum` from its files (`extensions`: those of loaders besides TS and JS); returns its path. */
export async function writeSum(dir: string, extensions: Iterable<string> = []): Promise<string> {
  const path = join(dir, SUM_FILE)
  await writeFileAtomic(path, formatSum(await checksumsOf(dir, extensions)))
  return path
}

/**
 * Compares a folder with its `flux.sum`: a file added, changed or removed since the sum was
 * written, a sum edited by hand, or a merge conflict left in it. `displayDir` names the folder
 * in messages. A folder without migrations and without a sum is fine.
 */
export async function checkSum(
  dir: string,
  displayDir: string,
  extensions: Iterable<string> = [],
): Promise<SumProblem[]> {
  const sumFile = join(displayDir, SUM_FILE)
  const files = await checksumsOf(dir, extensions)
  let text: string
  try {
    text = await readFile(join(dir, SUM_FILE), 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    if (files.length === 0) return []
    return [{ file: sumFile, message: `${sumFile} is missing; run \`flux sum\` to write it` }]
  }
  const problems: SumProblem[] = []
  const lines = text
    .replace(/\r\n/g, '\n')
    .split('\n')
    .filter((line) => line !== '')
  if (lines.some((line) => /^(<<<<<<<|=======|>>>>>>>)/.test(line))) {
    return [{ file: sumFile, message: `${sumFile} has merge conflict markers: two branches added migrations` }]
  }
  const recorded = new Map<string, string>()
  for (const line of lines.slice(1)) {
    const [fileName, checksum] = line.split(' ')
    if (fileName && checksum) recorded.set(fileName, checksum)
  }
  const onDisk = new Map(files.map((file) => [file.fileName, file.checksum]))
  for (const [fileName, checksum] of onDisk) {
    const expected = recorded.get(fileName)
    if (expected === undefined)
      problems.push({ file: join(displayDir, fileName), message: `${join(displayDir, fileName)} is not in ${sumFile}` })
    else if (expected !== checksum) {
      problems.push({
        file: join(displayDir, fileName),
        message: `${join(displayDir, fileName)} changed since ${sumFile} was written`,
      })
    }
  }
  for (const fileName of recorded.keys()) {
    if (!onDisk.has(fileName)) {
      problems.push({
        file: join(displayDir, fileName),
        message: `${join(displayDir, fileName)} is in ${sumFile} but the file is gone`,
      })
    }
  }
  if (problems.length === 0 && formatSum(files) !== `${lines.join('\n')}\n`) {
    problems.push({ file: sumFile, message: `${sumFile} was edited by hand: its total does not match its lines` })
  }
  return problems
}

/**
 * The problems of every migrations folder that has a `flux.sum` (see `checkSum`); a folder
 * without one is not checked. Paths in messages are relative to `cwd`.
 */
export async function sumMismatches(
  components: readonly Pick<Component, 'dir'>[],
  extensions: Iterable<string> = [],
  cwd: string = process.cwd(),
): Promise<SumProblem[]> {
  return (await mismatchesByFolder(components, extensions, cwd)).flatMap((folder) => folder.problems)
}

/**
 * Refuses to go on (`SUM_MISMATCH`, exit 3) when a migrations folder no longer matches its
 * `flux.sum`: a file edited, added or removed without `flux sum`, as after a bad merge. A
 * folder without `flux.sum` is not checked. `loadProject({ checkSums: true })` calls it
 * before any migration file is imported, for `flux up` and `flux down`.
 */
export async function assertSumsMatch(
  components: readonly Pick<Component, 'dir'>[],
  extensions: Iterable<string> = [],
  cwd: string = process.cwd(),
): Promise<void> {
  const mismatched = await mismatchesByFolder(components, extensions, cwd)
  if (mismatched.length === 0) return
  const folders = mismatched.map((folder) => `${folder.folder}${sep}`)
  const problems = mismatched.flatMap((folder) => folder.problems)
  const listed = problems.slice(0, MAX_LISTED).map((problem) => problem.message)
  if (problems.length > MAX_LISTED) listed.push(`${problems.length - MAX_LISTED} more (\`flux verify\` lists them)`)
  const subject =
    folders.length === 1
      ? `migrations folder ${folders[0]} does not match its ${SUM_FILE}`
      : `migrations folders ${folders.join(', ')} do not match their ${SUM_FILE}`
  throw new FluxError('SUM_MISMATCH', `${subject}: ${listed.join('; ')}`, {
    file: problems[0]!.file,
    hint: 'review the change, then run `flux sum` to accept it, or restore the files; nothing was applied',
    details: { folders, problems },
  })
}

/** Problems named in the message of `assertSumsMatch`; `flux verify` lists them all. */
const MAX_LISTED = 3

async function mismatchesByFolder(
  components: readonly Pick<Component, 'dir'>[],
  extensions: Iterable<string>,
  cwd: string,
): Promise<{ folder: string; problems: SumProblem[] }[]> {
  const extra = [...extensions]
  const checked = await Promise.all(
    components.map(async ({ dir }) => {
      const folder = relative(cwd, dir) || '.'
      if (!(await exists(join(dir, SUM_FILE)))) return { folder, problems: [] }
      return { folder, problems: await checkSum(dir, folder, extra) }
    }),
  )
  return checked.filter((folder) => folder.problems.length > 0)
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw error
  }
}
