import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
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

/** The files a component's folder holds, as `{ name, file }` sorted by file name; the folder may be missing. */
export async function listMigrationFiles(dir: string): Promise<{ name: string; fileName: string; file: string }[]> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw error
  }
  return names
    .filter((fileName) => isMigrationFileName(fileName))
    .sort()
    .map((fileName) => ({ name: fileName.replace(/\.[^.]+$/, ''), fileName, file: join(dir, fileName) }))
}

export function isMigrationFileName(fileName: string): boolean {
  if (fileName.startsWith('.') || fileName.startsWith('_')) return false
  if (/\.d\.(m|c)?ts$/.test(fileName) || /\.(test|spec)\.[^.]+$/.test(fileName)) return false
  return MIGRATION_EXTENSIONS.some((extension) => fileName.endsWith(extension))
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
): Promise<LoadedMigration[]> {
  const perComponent = await Promise.all(
    components.map(async (component) => {
      const files = await listMigrationFiles(component.dir)
      return Promise.all(
        files.map(async ({ name, file }) => {
          const displayFile = relative(cwd, file) || file
          const [text, module] = await Promise.all([readFile(file), importMigration(file, displayFile, importer)])
          const definition = module.default
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
