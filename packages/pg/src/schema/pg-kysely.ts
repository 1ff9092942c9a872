import { createRequire } from 'node:module'
import type * as KyselyModule from 'kysely'

interface Loaded {
  kysely: typeof KyselyModule
  /** Kysely with PostgreSQL's compiler and no connection: it only renders SQL. */
  offline: KyselyModule.Kysely<Record<string, Record<string, unknown>>>
}

let loaded: Loaded | undefined

/**
 * kysely, loaded on first use. Only schema operations and bulk rows render SQL with it, and
 * importing it costs about 150 ms (some 400 modules) at the start of every process that loads
 * `@flux/pg`: a `flux up` of `.sql` migrations never needs it. `require()` of an ES module
 * (Node ≥ 22.12) loads it synchronously, so the builders that use it stay synchronous; it is
 * the same module instance an `import 'kysely'` gets.
 */
export function kysely(): Loaded {
  if (loaded) return loaded
  const module = createRequire(import.meta.url)('kysely') as typeof KyselyModule
  const offline = new module.Kysely<Record<string, Record<string, unknown>>>({
    dialect: {
      createAdapter: () => new module.PostgresAdapter(),
      createDriver: () => new module.DummyDriver(),
      createIntrospector: (db) => new module.PostgresIntrospector(db),
      createQueryCompiler: () => new module.PostgresQueryCompiler(),
    },
  })
  loaded = { kysely: module, offline }
  return loaded
}

/** `sql.raw(text)`: an SQL fragment written as given. */
export const rawSql = <T = unknown>(text: string): KyselyModule.RawBuilder<T> => kysely().kysely.sql.raw<T>(text)

/** `sql.lit(value)`: a value as an SQL literal, escaped by kysely. */
export const literalSql = (value: unknown): KyselyModule.RawBuilder<unknown> => kysely().kysely.sql.lit(value)
