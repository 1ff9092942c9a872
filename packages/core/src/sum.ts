import { createHash } from 'node:crypto'
import { access, readFile, realpath } from 'node:fs/promises'
import { dirname, join, relative, sep } from 'node:path'
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

/**
 * Writes the folder's `flux.sum` from its files (`extensions`: those of loaders besides TS and
 * JS); returns its path. Refuses a folder of an installed package (see {@link isInstalledPackageDir}).
 */
export async function writeSum(dir: string, extensions: Iterable<string> = []): Promise<string> {
  await refuseInstalledPackage(dir)
  const path = join(dir, SUM_FILE)
  await writeFileAtomic(path, formatSum(await checksumsOf(dir, extensions)))
  return path
}

/**
 * Brings the lines of `fileNames` in the folder's `flux.sum` up to date with the files, and
 * its total with them, leaving every other line as it was recorded: accepting the edit of
 * one migration (`flux accept`) accepts nothing else. Writes the whole sum when the folder
 * has none yet. Returns its path.
 */
export async function updateSum(
  dir: string,
  fileNames: readonly string[],
  extensions: Iterable<string> = [],
): Promise<string> {
  await refuseInstalledPackage(dir)
  const path = join(dir, SUM_FILE)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    return writeSum(dir, extensions)
  }
  const lines = text
    .replace(/\r\n/g, '\n')
    .split('\n')
    .filter((line) => line !== '')
  if (lines.some((line) => /^(<<<<<<<|=======|>>>>>>>)/.test(line))) {
    throw new FluxError('SUM_MISMATCH', `${path} has merge conflict markers: two branches added migrations`, {
      file: path,
      hint: "resolve the conflict (keep both sides' migrations), then run `flux sum`",
    })
  }
  const recorded = new Map<string, string>()
  for (const line of lines.slice(1)) {
    const [fileName, checksum] = line.split(' ')
    if (fileName && checksum) recorded.set(fileName, checksum)
  }
  const current = new Map((await checksumsOf(dir, extensions)).map((file) => [file.fileName, file.checksum]))
  for (const fileName of fileNames) {
    const checksum = current.get(fileName)
    if (checksum === undefined) recorded.delete(fileName)
    else recorded.set(fileName, checksum)
  }
  await writeFileAtomic(path, formatSum([...recorded].map(([fileName, checksum]) => ({ fileName, checksum }))))
  return path
}

/**
 * Whether `dir` belongs to an installed package: its real path (symlinks followed, so a
 * workspace package linked into `node_modules` is not one) goes through a `node_modules`
 * folder. Its `flux.sum` ships with the package: flux never writes it. A folder that does
 * not exist yet is judged by its nearest existing parent.
 */
export async function isInstalledPackageDir(dir: string): Promise<boolean> {
  let path = dir
  for (;;) {
    try {
      return (await realpath(path)).split(/[\\/]/).includes('node_modules')
    } catch (error) {
      const parent = dirname(path)
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || parent === path) throw error
      path = parent
    }
  }
}

async function refuseInstalledPackage(dir: string): Promise<void> {
  if (!(await isInstalledPackageDir(dir))) return
  const folder = relative(process.cwd(), dir) || '.'
  throw new FluxError('USAGE', `${folder} is inside node_modules: flux does not write ${SUM_FILE} there`, {
    file: join(dir, SUM_FILE),
    hint: "an installed package's flux.sum ships with the package; change its migrations in its own repository",
  })
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

/** Whether the folder has a `flux.sum`. */
export function hasSum(dir: string): Promise<boolean> {
  return exists(join(dir, SUM_FILE))
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
