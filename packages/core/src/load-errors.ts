import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The package of each adapter's factory, for messages about an adapter that is not installed. */
export const ADAPTER_FACTORIES: Readonly<Record<string, string>> = {
  '@flux/fs': 'fsStore',
  '@flux/pg': 'pgStore',
  '@flux/mongo': 'mongoStore',
  '@flux/redis': 'redisStore',
  '@flux/s3': 's3Store',
}

/**
 * Where an error of a config or migration file happened, as `file:line:column` relative to
 * `cwd`: the place a syntax error points at (Node puts it in the stack's first lines, or,
 * for JavaScript, nowhere: `node --check` then finds it), else the first stack frame, along
 * the cause chain, in a file of the project (under `root`, outside `node_modules`).
 */
export function locationOf(error: unknown, root: string, cwd: string, file?: string): string | undefined {
  if (error instanceof SyntaxError) {
    const found = syntaxLocation(error.stack ?? '') ?? (file ? checkSyntax(file) : undefined)
    if (found) return display(found.file ?? file ?? '', found.line, found.column, cwd)
  }
  return projectFrame(error, root, cwd)
}

/** The first stack frame along the cause chain in a file under `root`, outside its `node_modules`. */
export function projectFrame(error: unknown, root: string, cwd: string): string | undefined {
  const base = resolve(root) + sep
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 8; depth++) {
    for (const match of (current.stack ?? '').matchAll(FRAME)) {
      const path = match[1]!.startsWith('file://') ? safePath(match[1]!) : match[1]!
      if (!path?.startsWith(base) || path.slice(base.length).includes(`node_modules${sep}`)) continue
      return display(path, Number(match[2]), Number(match[3]), cwd)
    }
    current = current.cause
  }
  return undefined
}

// `    at up (file:///app/migrations/001.ts:12:5)` or `    at file:///app/flux.config.ts:4:3`
const FRAME = /^\s+at (?:.*?\()?(file:\/\/[^()]+?|\/[^():]+|[A-Za-z]:\\[^():]+):(\d+):(\d+)\)?$/gm

/** A syntax error's place as Node shows it: `path:line`, the source line, a caret line. */
function syntaxLocation(stack: string): { file?: string; line: number; column?: number } | undefined {
  const match = /^(.+?):(\d+)\n(.*)\n(\s*)\^/.exec(stack) ?? /^(.+?):(\d+)\n/.exec(stack)
  if (!match || /^\w*Error\b/.test(match[1]!)) return undefined
  return {
    // a path, or a file URL when a module hook resolved the file (module-loader.ts)
    file: match[1] === '[stdin]' ? undefined : match[1]!.startsWith('file://') ? safePath(match[1]!) : match[1],
    line: Number(match[2]),
    column: match[4] === undefined ? undefined : match[4].length + 1,
  }
}

/**
 * A JavaScript module's syntax error leaves its place out of the error, so the file is
 * checked again in a child Node, which prints it: only on this failure path, once.
 */
function checkSyntax(file: string): { file?: string; line: number; column?: number } | undefined {
  let source: string
  try {
    source = readFileSync(file, 'utf8')
  } catch {
    return undefined
  }
  const result = spawnSync(process.execPath, ['--input-type=module', '--check'], {
    input: source,
    encoding: 'utf8',
    timeout: 10_000,
  })
  return syntaxLocation(result.stderr ?? '')
}

function display(file: string, line: number, column: number | undefined, cwd: string): string {
  const path = isAbsolute(file) ? relative(cwd, file) || file : file
  return column === undefined ? `${path}:${line}` : `${path}:${line}:${column}`
}

function safePath(url: string): string | undefined {
  try {
    return fileURLToPath(url)
  } catch {
    return undefined
  }
}

/** A module that could not be found, from Node's or jiti's error. */
export interface MissingModule {
  /** A package name (`@flux/pg`), or the absolute path of a missing local file. */
  missing: string
  /** It is a package, not a local file. */
  isPackage: boolean
  /** Absolute path of the file that imports it, when the error says. */
  importer?: string
}

export function missingModuleOf(error: unknown): MissingModule | undefined {
  if (!(error instanceof Error)) return undefined
  const code = (error as NodeJS.ErrnoException).code
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return undefined
  const match = /Cannot find (?:package|module) '([^']+)'(?: imported from (\S+))?/.exec(error.message)
  if (!match) return undefined
  const specifier = match[1]!
  const importer = match[2] ? (match[2].startsWith('file://') ? safePath(match[2]) : match[2]) : undefined
  if (isAbsolute(specifier) || specifier.startsWith('.') || specifier.startsWith('file://')) {
    const path = specifier.startsWith('file://') ? (safePath(specifier) ?? specifier) : specifier
    return { missing: resolve(importer ? dirname(importer) : '', path), isPackage: false, importer }
  }
  const parts = specifier.split('/')
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!
  return { missing: name, isPackage: true, importer }
}

/** Where `importer` names the missing module (the import's specifier), as `file:line:column`. */
export function importLocation(importer: string, missing: MissingModule, cwd: string): string | undefined {
  let source: string
  try {
    source = readFileSync(importer, 'utf8')
  } catch {
    return undefined
  }
  for (const match of source.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)(['"])([^'"]+)\1/g)) {
    const specifier = match[2]!
    const same = missing.isPackage
      ? specifier === missing.missing || specifier.startsWith(`${missing.missing}/`)
      : resolve(dirname(importer), specifier) === missing.missing
    // a type-only import is erased before the module loads: it is not the one that failed
    if (!same || /^(?:import|export)\s+type\s/.test(source.slice(statementStart(source, match.index)))) continue
    const index = match.index + match[0].length - specifier.length - 1
    const before = source.slice(0, index)
    const line = before.split('\n').length
    return display(importer, line, index - before.lastIndexOf('\n'), cwd)
  }
  return undefined
}

function statementStart(source: string, index: number): number {
  return Math.max(source.lastIndexOf('import', index), source.lastIndexOf('export', index), 0)
}

/** The command that installs a dev dependency with the package manager the project uses. */
export function installCommand(root: string, name: string): string {
  for (let dir = resolve(root); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'pnpm-lock.yaml'))) return `pnpm add -D ${name}`
    if (existsSync(join(dir, 'yarn.lock'))) return `yarn add -D ${name}`
    if (existsSync(join(dir, 'bun.lock')) || existsSync(join(dir, 'bun.lockb'))) return `bun add -d ${name}`
    if (existsSync(join(dir, 'package-lock.json')) || dirname(dir) === dir) return `npm install -D ${name}`
  }
}

/** The package a file inside `node_modules` belongs to (`@flux/pg`), if it is in one. */
export function packageOfFile(file: string): string | undefined {
  const parts = file.split(/[\\/]/)
  const index = parts.lastIndexOf('node_modules')
  if (index < 0 || index + 1 >= parts.length) return undefined
  return parts[index + 1]!.startsWith('@') ? parts.slice(index + 1, index + 3).join('/') : parts[index + 1]
}

/**
 * What to tell about a module that is not there: `who` (`store "catalog"`, a migration's
 * file) needs a package that is not installed, with the command that installs it; or a file
 * imports a local module that does not exist, with the place of that import.
 */
export function missingModuleError(
  reported: MissingModule,
  file: string,
  who: string,
  root: string,
  cwd: string,
): { message: string; hint: string; location: string | undefined } {
  const found = withImporter(reported, file, root)
  const location = found.importer ? importLocation(found.importer, found, cwd) : undefined
  if (!found.isPackage) {
    const importer = found.importer ? relative(cwd, found.importer) : who
    return {
      message: `${importer} imports ${relative(cwd, found.missing)}, which does not exist`,
      hint: 'fix the path of the import (relative to the importing file, with its extension); nothing was changed',
      location,
    }
  }
  const hint = `install it: ${installCommand(root, found.missing)}`
  const what = found.missing in ADAPTER_FACTORIES ? 'the adapter ' : ''
  // a package the file uses needs it (`@flux/pg` needs `pg`); a component package's own file is the file itself
  const owner = found.importer ? packageOfFile(found.importer) : undefined
  if (owner && owner !== found.missing && owner !== packageOfFile(file)) {
    return {
      message: `${who}: ${owner} needs ${what}${found.missing}, which is not installed`,
      hint,
      location: undefined,
    }
  }
  return { message: `${who} needs ${what}${found.missing}, which is not installed`, hint, location }
}

/**
 * The CLI resolves `@flux/*` from its own folder when the project lacks them; when that fails
 * too, Node names the CLI's file as the importer. The file being loaded is the one that
 * imports it then.
 */
export function withImporter(found: MissingModule, file: string, root: string): MissingModule {
  const importer = found.importer
  if (!found.isPackage || !found.missing.startsWith('@flux/') || importer === undefined) return found
  const owner = packageOfFile(importer)
  const outside = owner === undefined && !resolve(importer).startsWith(resolve(root) + sep)
  return owner === '@flux/cli' || outside ? { ...found, importer: file } : found
}
