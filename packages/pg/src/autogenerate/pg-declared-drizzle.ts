import { access } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import { FluxError, importModule } from '@flux/core'

/** A declared schema with one of these extensions is a Drizzle schema module, not an SQL file. */
export const DRIZZLE_DECLARED_EXTENSIONS = ['.ts', '.mts', '.js', '.mjs'] as const

export function isDrizzleDeclared(path: string): boolean {
  return DRIZZLE_DECLARED_EXTENSIONS.some((extension) => path.endsWith(extension))
}

/** The part of `drizzle-kit/api` used here (drizzle-kit 0.31). */
interface DrizzleKitApi {
  generateDrizzleJson(imports: Record<string, unknown>): DrizzleSnapshot
  generateMigration(previous: DrizzleSnapshot, current: DrizzleSnapshot): Promise<string[]>
}

interface DrizzleSnapshot {
  tables: Record<string, { name: string; schema: string }>
  enums: Record<string, { name: string; schema: string }>
  schemas: Record<string, string>
  sequences: Record<string, { name: string; schema: string }>
  views: Record<string, { name: string; schema: string }>
}

/**
 * The desired-state SQL of a Drizzle schema module: its exported `pgTable`s, `pgEnum`s,
 * sequences and views, as the CREATE statements drizzle-kit writes for a migration from an
 * empty database. They name no schema, so that they run in autogenerate's scratch schema like
 * a declared `.sql` file. `importer` loads drizzle-kit: a seam for tests.
 */
export async function drizzleDeclaredSql(
  declared: { path: string; display: string },
  importer: (specifier: string) => Promise<unknown> = (specifier) => import(specifier),
): Promise<string> {
  try {
    await access(declared.path)
  } catch (error) {
    throw new FluxError('CONFIG_INVALID', `cannot read the declared schema ${declared.display}`, {
      hint: "declared is a Drizzle schema module or a .sql file, relative to the config's folder: create it, or fix the path",
      file: declared.display,
      cause: error,
    })
  }
  const kit = await drizzleKit(declared, importer)
  let exports: Record<string, unknown>
  try {
    exports = await importModule(declared.path)
  } catch (error) {
    throw new FluxError(
      'CONFIG_INVALID',
      `cannot load the declared Drizzle schema ${declared.display}: ${(error as Error).message ?? String(error)}`,
      {
        hint: 'fix the module so that it imports on its own: drizzle-orm installed, no app start-up code run at import',
        file: declared.display,
        cause: error,
      },
    )
  }
  const snapshot = kit.generateDrizzleJson(exports)
  const named = [
    ...Object.values(snapshot.tables).map((table) => ({ what: 'table', ...table })),
    ...Object.values(snapshot.enums).map((type) => ({ what: 'enum', ...type })),
    ...Object.values(snapshot.sequences).map((sequence) => ({ what: 'sequence', ...sequence })),
    ...Object.values(snapshot.views).map((view) => ({ what: 'view', ...view })),
  ]
  if (named.length === 0) {
    throw new FluxError('CONFIG_INVALID', `the declared Drizzle schema ${declared.display} exports no pg tables`, {
      hint: 'export the pgTable(), pgEnum() and other objects of the schema from the module (export const hotel = pgTable(…))',
      file: declared.display,
    })
  }
  const elsewhere = named.find((object) => object.schema !== '' && object.schema !== 'public')
  const schemaName = elsewhere?.schema ?? Object.values(snapshot.schemas)[0]
  if (schemaName !== undefined) {
    throw new FluxError(
      'CONFIG_INVALID',
      elsewhere
        ? `the declared Drizzle schema ${declared.display} puts ${elsewhere.what} ${elsewhere.name} in pgSchema('${schemaName}'): autogenerate compares one schema, and needs the tables declared without one`
        : `the declared Drizzle schema ${declared.display} exports pgSchema('${schemaName}'): autogenerate compares one schema, and needs the tables declared without one`,
      {
        hint: "declare them with pgTable() and pgEnum(), and name the live schema to compare with in pgStore()'s declaredSchema option",
        file: declared.display,
      },
    )
  }
  const statements = await kit.generateMigration(kit.generateDrizzleJson({}), snapshot)
  return statements.map((statement) => `${unqualified(statement.trim()).replace(/;?$/, ';')}\n`).join('\n')
}

/**
 * drizzle-kit qualifies enums and referenced tables with `"public".`: dropped, outside string
 * literals, so that the statements create and reference the scratch schema's objects.
 */
function unqualified(statement: string): string {
  return statement.replace(/('(?:[^']|'')*')|"public"\./g, (_match, literal: string | undefined) => literal ?? '')
}

/**
 * drizzle-kit's programmatic API, loaded only for a Drizzle declaration: from the declaring
 * project first (the version its drizzle-orm goes with), else from beside this package.
 */
async function drizzleKit(
  declared: { path: string; display: string },
  importer: (specifier: string) => Promise<unknown>,
): Promise<DrizzleKitApi> {
  // its CommonJS build, which loads in a fifth of the time of its ES module (0.31: 1 s, not 5 s)
  let specifier = 'drizzle-kit/api'
  for (const from of [declared.path, import.meta.url]) {
    try {
      specifier = pathToFileURL(createRequire(from).resolve('drizzle-kit/api')).href
      break
    } catch {
      // not installed there: next, and at last the import below says what to install
    }
  }
  try {
    const api = (await importer(specifier)) as Partial<DrizzleKitApi> & { default?: Partial<DrizzleKitApi> }
    const kit = typeof api.generateDrizzleJson === 'function' ? api : api.default
    if (typeof kit?.generateDrizzleJson !== 'function' || typeof kit.generateMigration !== 'function') {
      throw new FluxError(
        'CONFIG_INVALID',
        `the installed drizzle-kit has no generateDrizzleJson/generateMigration in drizzle-kit/api, needed to read the declared schema ${declared.display}`,
        {
          hint: 'install drizzle-kit 0.31 or later: npm install --save-dev drizzle-kit@latest',
          file: declared.display,
        },
      )
    }
    return kit as DrizzleKitApi
  } catch (error) {
    if (FluxError.is(error) || (error as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw error
    throw new FluxError(
      'CONFIG_INVALID',
      `the declared schema ${declared.display} is a Drizzle schema module, and drizzle-kit is not installed to read it`,
      {
        hint: 'install drizzle-kit beside drizzle-orm in the project (npm install --save-dev drizzle-kit), or declare a .sql file of CREATE statements',
        file: declared.display,
        cause: error,
      },
    )
  }
}
