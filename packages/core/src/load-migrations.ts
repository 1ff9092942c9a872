import { hash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { dirname, extname, join, relative, resolve, sep } from 'node:path'
import type { MigrationFileLoader } from './adapter.ts'
import { FluxError, messageOf } from './errors.ts'
import { locationOf, missingModuleError, missingModuleOf } from './load-errors.ts'
import { isMigrationDefinition, type MigrationDefinition } from './migration.ts'
import type { ModuleImporter } from './module-loader.ts'

/** File extensions of migrations, TypeScript or JavaScript. */
export const MIGRATION_EXTENSIONS = ['.ts', '.mts', '.js', '.mjs'] as const

/** A component: a unit that owns a folder of migrations. */
export interface Component {
  name: string
  /** Absolute path of its migrations folder. */
  dir: string
  /** A component package: its migrations name roles, bound here to the application's stores. */
  roles?: Record<string, string>
  /** The package and its version, for messages about its migrations. */
  package?: { name: string; version: string }
  /** It may have several heads without `verify` reporting it. */
  allowBranches?: boolean
}

/** A migration as loaded from its file. */
export interface LoadedMigration {
  id: string
  component: string
  name: string
  /** Absolute path. */
  file: string
  /** Path for messages, relative to the working directory. */
  displayFile: string
  /** `sha256:<hex>` of the file, line endings normalized. */
  checksum: string
  definition: MigrationDefinition
}

/** Loaders of other migration languages, by extension (`.sql` → the pg adapter's). */
export type MigrationFileLoaders = ReadonlyMap<string, MigrationFileLoader>

/**
 * The migration files of a folder, sorted by file name; the folder may be missing.
 * `extensions` adds the extensions of loaders beside TypeScript and JavaScript.
 */
export async function listMigrationFiles(
  dir: string,
  extensions: Iterable<string> = [],
): Promise<{ name: string; fileName: string; file: string }[]> {
  const extra = [...extensions]
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw error
  }
  // joined once: path.join() on each of a thousand names costs milliseconds
  const prefix = join(dir, sep)
  return names
    .filter((fileName) => isMigrationFileName(fileName, extra))
    .sort()
    .map((fileName) => ({ name: fileName.slice(0, fileName.lastIndexOf('.')), fileName, file: prefix + fileName }))
}

export function isMigrationFileName(fileName: string, extensions: readonly string[] = []): boolean {
  if (fileName.startsWith('.') || fileName.startsWith('_')) return false
  if (/\.d\.(m|c)?ts$/.test(fileName) || /\.(test|spec)\.[^.]+$/.test(fileName)) return false
  return [...MIGRATION_EXTENSIONS, ...extensions].some((extension) => fileName.endsWith(extension))
}

/** `sha256:<hex>` of a file's text with CRLF line endings made LF, so a checkout on Windows does not look like drift. */
export function checksumOf(text: string | Buffer): string {
  const decoded = typeof text === 'string' ? text : text.toString('utf8')
  const normalized = decoded.includes('\r\n') ? decoded.replace(/\r\n/g, '\n') : decoded
  // the one-shot hash costs a fraction of createHash() on many small files
  return `sha256:${hash('sha256', normalized)}`
}

/**
 * Loads every migration of the components, in component order then file order. Files are
 * read synchronously: a thousand small files read in a few milliseconds that way, against
 * tens of milliseconds through the promise API (four thread-pool round trips per file).
 */
export async function loadMigrations(
  components: Component[],
  importer: ModuleImporter,
  cwd: string,
  loaders: MigrationFileLoaders = new Map(),
): Promise<LoadedMigration[]> {
  const helperChecksums = new Map<string, string | undefined>()
  const perComponent = await Promise.all(
    components.map(async (component) => {
      const files = await listMigrationFiles(component.dir, loaders.keys())
      const displayDir = relative(cwd, component.dir)
      const loaded: LoadedMigration[] = new Array(files.length)
      const entry = (index: number) => {
        const { name, fileName, file } = files[index]!
        const displayFile = displayDir === '' ? fileName : `${displayDir}${sep}${fileName}`
        return { id: `${component.name}/${name}`, component: component.name, name, file, displayFile }
      }
      // TypeScript and JavaScript migrations are imported all at once
      const imports = files.map(async ({ fileName }, index) => {
        if (loaders.has(extname(fileName))) return
        const base = entry(index)
        const definition = (
          await importMigration(base.file, base.displayFile, importer, projectOf(component, cwd), cwd)
        ).default
        if (!isMigrationDefinition(definition) && !looksLikeDefinition(definition)) {
          throw new FluxError(
            'MIGRATION_INVALID',
            `${base.displayFile} does not export a migration as its default export`,
            {
              file: base.displayFile,
              hint: 'write `export default defineMigration({ store: "…", up(ctx) { … } })`',
            },
          )
        }
        const checksum = moduleChecksum(base.file, helperChecksums)
        loaded[index] = { ...base, checksum, definition: definition as MigrationDefinition }
      })
      try {
        // files of other languages are read here, giving the event loop a turn every so many
        // files, so that stores connecting meanwhile (`prefetch`) go on
        let read = 0
        for (const [index, { fileName }] of files.entries()) {
          const loader = loaders.get(extname(fileName))
          if (!loader) continue
          if (++read % YIELD_EVERY === 0) await new Promise(setImmediate)
          const base = entry(index)
          const text = readFileSync(base.file, 'utf8')
          const definition = loadWith(loader, base.displayFile, text)
          loaded[index] = { ...base, checksum: checksumOf(text), definition }
        }
      } catch (error) {
        await Promise.allSettled(imports)
        throw error
      }
      await Promise.all(imports)
      return loaded
    }),
  )
  return perComponent.flat()
}

/** Files read between two turns of the event loop. */
const YIELD_EVERY = 64

const LOCAL_IMPORT = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.{1,2}\/[^'"]+)['"]/g
const MODULE_EXTENSIONS = ['', '.ts', '.mts', '.js', '.mjs', '/index.ts', '/index.js']

/**
 * The checksum of a TypeScript or JavaScript migration covers the local modules it imports
 * (`./helpers.ts`, recursively), so an edit to a shared helper of an applied migration is
 * drift too. A migration without local imports has the checksum of its file alone.
 */
function moduleChecksum(file: string, cache: Map<string, string | undefined>): string {
  // read once: its checksum and its imports come from the same text
  const text = readFileSync(file, 'utf8')
  const own = checksumOf(text)
  const imported = new Map<string, string>()
  const visit = (from: string, source: string) => {
    for (const match of source.matchAll(LOCAL_IMPORT)) {
      const target = resolveLocal(dirname(from), match[1]!, cache)
      if (!target || target === file || imported.has(target)) continue
      imported.set(target, cache.get(target)!)
      visit(target, readFileSync(target, 'utf8'))
    }
  }
  visit(file, text)
  if (imported.size === 0) return own
  const parts = [own, ...[...imported].map(([path, checksum]) => `${relative(dirname(file), path)} ${checksum}`).sort()]
  return checksumOf(parts.join('\n'))
}

function resolveLocal(dir: string, specifier: string, cache: Map<string, string | undefined>): string | undefined {
  for (const extension of MODULE_EXTENSIONS) {
    const candidate = resolve(dir, `${specifier}${extension}`)
    if (!cache.has(candidate)) {
      try {
        cache.set(candidate, checksumOf(readFileSync(candidate)))
      } catch {
        cache.set(candidate, undefined)
      }
    }
    if (cache.get(candidate) !== undefined) return candidate
  }
  return undefined
}

function loadWith(loader: MigrationFileLoader, displayFile: string, text: string): MigrationDefinition {
  try {
    return loader.load(displayFile, text)
  } catch (error) {
    if (FluxError.is(error)) throw error
    throw new FluxError('MIGRATION_INVALID', `${displayFile} could not be read: ${firstLine(messageOf(error))}`, {
      file: displayFile,
      hint: 'fix the file; nothing was applied',
      cause: error,
    })
  }
}

async function importMigration(
  file: string,
  displayFile: string,
  importer: ModuleImporter,
  project: string,
  cwd: string,
) {
  try {
    return await importer(file)
  } catch (error) {
    const missing = missingModuleOf(error)
    if (missing) {
      const { message, hint, location } = missingModuleError(missing, file, displayFile, cwd, cwd)
      throw new FluxError('MIGRATION_INVALID', message, { file: displayFile, hint, location, cause: error })
    }
    throw new FluxError('MIGRATION_INVALID', `${displayFile} could not be loaded: ${firstLine(messageOf(error))}`, {
      file: displayFile,
      location: locationOf(error, project, cwd, file),
      hint: 'fix the file (run with --debug for the full error); nothing was applied',
      cause: error,
    })
  }
}

/** The folder whose files count as the migration's own for an error's location: the project, or the component package. */
function projectOf(component: Component, cwd: string): string {
  return component.package ? component.dir : cwd
}

function looksLikeDefinition(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'up' in value && 'store' in value
}

function firstLine(text: string): string {
  return text.split('\n').find((line) => line.trim() !== '') ?? text
}
