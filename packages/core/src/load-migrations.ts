import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { extname, join, relative } from 'node:path'
import type { MigrationFileLoader } from './adapter.ts'
import { FluxError, messageOf } from './errors.ts'
import { isMigrationDefinition, type MigrationDefinition } from './migration.ts'
import type { ModuleImporter } from './module-loader.ts'

/** File extensions of migrations, TypeScript or JavaScript. */
export const MIGRATION_EXTENSIONS = ['.ts', '.mts', '.js', '.mjs'] as const

/** A component: a unit that owns a folder of migrations. */
export interface Component {
  name: string
  /** Absolute path of its migrations folder. */
  dir: string
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
  return names
    .filter((fileName) => isMigrationFileName(fileName, extra))
    .sort()
    .map((fileName) => ({ name: fileName.replace(/\.[^.]+$/, ''), fileName, file: join(dir, fileName) }))
}

export function isMigrationFileName(fileName: string, extensions: readonly string[] = []): boolean {
  if (fileName.startsWith('.') || fileName.startsWith('_')) return false
  if (/\.d\.(m|c)?ts$/.test(fileName) || /\.(test|spec)\.[^.]+$/.test(fileName)) return false
  return [...MIGRATION_EXTENSIONS, ...extensions].some((extension) => fileName.endsWith(extension))
}

/** `sha256:<hex>` of a file's text with CRLF line endings made LF, so a checkout on Windows does not look like drift. */
export function checksumOf(text: string | Buffer): string {
  const normalized = (typeof text === 'string' ? text : text.toString('utf8')).replace(/\r\n/g, '\n')
  return `sha256:${createHash('sha256').update(normalized).digest('hex')}`
}

/** Loads every migration of the components, in component order then file order. */
export async function loadMigrations(
  components: Component[],
  importer: ModuleImporter,
  cwd: string,
  loaders: MigrationFileLoaders = new Map(),
): Promise<LoadedMigration[]> {
  const perComponent = await Promise.all(
    components.map(async (component) => {
      const files = await listMigrationFiles(component.dir, loaders.keys())
      return Promise.all(
        files.map(async ({ name, fileName, file }) => {
          const displayFile = relative(cwd, file) || file
          const loader = loaders.get(extname(fileName))
          const [text, definition] = await Promise.all([
            readFile(file),
            loader ? undefined : importMigration(file, displayFile, importer).then((module) => module.default),
          ])
          if (loader) {
            return {
              id: `${component.name}/${name}`,
              component: component.name,
              name,
              file,
              displayFile,
              checksum: checksumOf(text),
              definition: loadWith(loader, displayFile, text),
            }
          }
          if (!isMigrationDefinition(definition) && !looksLikeDefinition(definition)) {
            throw new FluxError(
              'MIGRATION_INVALID',
              `${displayFile} does not export a migration as its default export`,
              {
                file: displayFile,
                hint: 'write `export default defineMigration({ store: "…", up(ctx) { … } })`',
              },
            )
          }
          return {
            id: `${component.name}/${name}`,
            component: component.name,
            name,
            file,
            displayFile,
            checksum: checksumOf(text),
            definition: definition as MigrationDefinition,
          }
        }),
      )
    }),
  )
  return perComponent.flat()
}

function loadWith(loader: MigrationFileLoader, displayFile: string, text: Buffer): MigrationDefinition {
  try {
    return loader.load(displayFile, text.toString('utf8'))
  } catch (error) {
    if (FluxError.is(error)) throw error
    throw new FluxError('MIGRATION_INVALID', `${displayFile} could not be read: ${firstLine(messageOf(error))}`, {
      file: displayFile,
      hint: 'fix the file; nothing was applied',
      cause: error,
    })
  }
}

async function importMigration(file: string, displayFile: string, importer: ModuleImporter) {
  try {
    return await importer(file)
  } catch (error) {
    throw new FluxError('MIGRATION_INVALID', `${displayFile} could not be loaded: ${firstLine(messageOf(error))}`, {
      file: displayFile,
      hint: 'fix the file (run with --debug for the full error); nothing was applied',
      cause: error,
    })
  }
}

function looksLikeDefinition(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'up' in value && 'store' in value
}

function firstLine(text: string): string {
  return text.split('\n').find((line) => line.trim() !== '') ?? text
}
