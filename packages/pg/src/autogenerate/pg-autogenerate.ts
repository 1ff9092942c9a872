import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { FluxError } from '@flux/core'
import type { Driver } from '../pg-client.ts'
import { quoteIdentifier } from '../pg-options.ts'
import { type SqlStatement, SqlSyntaxError, splitSql } from '../pg-sql-split.ts'
import { drizzleDeclaredSql, isDrizzleDeclared } from './pg-declared-drizzle.ts'
import { diffSchemas, type SchemaDiff } from './pg-diff.ts'
import { introspect } from './pg-introspect.ts'

export interface DeclaredSchema {
  /** Absolute path of the desired-state SQL file, or of a Drizzle schema module (`.ts`, `.mts`, `.js`, `.mjs`). */
  path: string
  /** The path as the config gives it, for messages. */
  display: string
  /** The live schema compared with it; default the connection's `current_schema()`. */
  schema: string | undefined
  /** Schema of flux's ledger and the names of its tables, which are never compared. */
  ledgerSchema: string
  ledgerTables: readonly string[]
}

/** Thrown out of the comparison's transaction so that it always ends with ROLLBACK. */
class RolledBack extends Error {
  readonly diff: SchemaDiff
  constructor(diff: SchemaDiff) {
    super('rolled back on purpose')
    this.diff = diff
  }
}

/**
 * Compares the live schema with the declared one. In one transaction, always rolled back: the
 * declared SQL runs in a new scratch schema (first in `search_path`), both schemas are read from
 * pg_catalog, and nothing is ever applied to the live tables. `renames`: ids of the diff's
 * rename questions that a user answered yes.
 */
export async function autogenerate(
  driver: Driver,
  declared: DeclaredSchema,
  renames: readonly string[] = [],
): Promise<SchemaDiff> {
  const statements = await declaredStatements(declared)
  const scratch = `flux_autogenerate_${randomBytes(6).toString('hex')}`
  try {
    await driver.transaction(async (connection) => {
      const { rows } = await connection.query<{ schema: string | null; present: boolean; own: string | null }>(
        `select coalesce($1, current_schema()) as schema, current_schema() as own,
           exists (select 1 from pg_namespace where nspname = coalesce($1, current_schema())) as present`,
        [declared.schema ?? null],
      )
      const live = rows[0]?.schema
      if (!live || !rows[0]?.present) {
        throw new FluxError(
          'CONFIG_INVALID',
          live
            ? `the schema "${live}" to compare with ${declared.display} does not exist`
            : `the connection's search_path names no existing schema to compare with ${declared.display}`,
          { hint: 'create the schema, or name an existing one with the declaredSchema option of pgStore()' },
        )
      }
      await connection.query(`create schema ${quoteIdentifier(scratch)}`)
      await connection.query(`set local search_path = ${quoteIdentifier(scratch)}`)
      for (const statement of statements) await runDeclared(connection, statement, declared)
      const wanted = await introspect(connection, scratch, [])
      // with the live schema first in search_path, its names print unqualified, as the scratch ones did
      await connection.query(`set local search_path = ${quoteIdentifier(live)}`)
      const current = await introspect(connection, live, live === declared.ledgerSchema ? declared.ledgerTables : [])
      const diff = diffSchemas(current, wanted, new Set(renames))
      if (diff.up.length > 0 && live !== rows[0]?.own) {
        // the migration runs on the store's connections, whose unqualified names are elsewhere
        const inLive = `set local search_path = ${quoteIdentifier(live)}`
        diff.up.unshift(inLive)
        diff.down.unshift(inLive)
        diff.notes.push(
          `the store's connections use schema ${rows[0]?.own ?? '(none)'}: the migration sets search_path to ${live}, the declaredSchema, for its transaction`,
        )
      }
      throw new RolledBack(diff)
    })
  } catch (error) {
    if (error instanceof RolledBack) return error.diff
    throw error
  }
  throw new Error('unreachable: the comparison always rolls back')
}

async function declaredStatements(declared: DeclaredSchema): Promise<SqlStatement[]> {
  // a Drizzle module becomes the CREATE statements drizzle-kit writes for it, compared as a .sql file is
  if (isDrizzleDeclared(declared.path)) return splitSql(await drizzleDeclaredSql(declared))
  let text: string
  try {
    text = await readFile(declared.path, 'utf8')
  } catch (error) {
    throw new FluxError('CONFIG_INVALID', `cannot read the declared schema ${declared.display}`, {
      hint: "declared is a file of CREATE statements, relative to the config's folder: create it, or fix the path",
      file: declared.display,
      cause: error,
    })
  }
  let statements: SqlStatement[]
  try {
    statements = splitSql(text)
  } catch (error) {
    if (!(error instanceof SqlSyntaxError)) throw error
    throw new FluxError('CONFIG_INVALID', `${declared.display}:${error.line}: ${error.message}`, {
      hint: error.hint,
      file: declared.display,
    })
  }
  if (statements.length === 0) {
    throw new FluxError('CONFIG_INVALID', `the declared schema ${declared.display} has no statements`, {
      hint: 'write the CREATE TABLE, CREATE INDEX and CREATE TYPE statements of the schema the store should have',
      file: declared.display,
    })
  }
  return statements
}

async function runDeclared(
  connection: Parameters<Parameters<Driver['transaction']>[0]>[0],
  statement: SqlStatement,
  declared: DeclaredSchema,
): Promise<void> {
  try {
    await connection.query(statement.text)
  } catch (error) {
    const position = Number((error as { position?: string }).position)
    const line = statement.line + (position > 0 ? (statement.text.slice(0, position - 1).match(/\n/g)?.length ?? 0) : 0)
    // drizzle-kit's SQL has no lines of the user's: name its statement instead
    const where = isDrizzleDeclared(declared.path)
      ? `${declared.display}, in drizzle-kit's \`${statement.text.split('\n')[0]}\``
      : `${declared.display}:${line}`
    throw new FluxError('CONFIG_INVALID', `${where}: ${(error as Error).message ?? String(error)}`, {
      hint: 'the declared schema runs in an empty scratch schema: fix the statement (it may name only what the file itself creates, and types of pg_catalog)',
      file: declared.display,
      cause: error,
    })
  }
}
