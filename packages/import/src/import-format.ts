/**
 * The one interface a tool's format implements: `src/formats/<tool>.ts` exports an
 * {@link ImportFormat}, and `src/formats.ts` lists it. `flux import <tool>` then reads the
 * tool's folder with {@link ImportFormat.readHistory}, reads its ledger with
 * {@link ImportFormat.readApplied}, and does everything else itself: writes the flux files,
 * updates `flux.sum`, records the applied migrations in flux's ledger. A format never writes.
 */
export interface ImportFormat {
  /** The name on the command line: `flux import golang-migrate`. */
  readonly tool: string
  /** One line for `flux import --help`: the layout it reads and the ledger it trusts. */
  readonly summary: string
  /** The kind of store its migrations run on (`pg`, `mongo`): `--store` must be one. */
  readonly storeKind: string
  /** The folder read without `--from`, relative to the project's root: the tool's own default. */
  readonly defaultFrom: string
  /**
   * Reads the tool's folder (absolute path): its migrations in the order the tool applies them.
   * Throws a `FluxError` (`MIGRATION_INVALID`, naming the file) for what the tool itself would
   * refuse, such as two files with one version.
   */
  readHistory(dir: string): Promise<ForeignHistory>
  /**
   * Reads the tool's own ledger through the store's client (between the store's `open()` and
   * `close()`; for a pg store a {@link SqlClient}): the keys of the migrations it applied.
   * `undefined` when the ledger does not exist (the tool never ran on this store: nothing is
   * applied). Throws a `FluxError` that names the migration and says what to do, before
   * anything is written, for an entry the tool itself would stop on: `DIRTY` for a failed or
   * half-applied one, `MISSING` for one that has no file, `DRIFT` for a checksum it would refuse.
   */
  readApplied(client: unknown, history: ForeignHistory): Promise<ForeignLedger | undefined>
  /**
   * `'ledger-only'` for a tool whose migrations are code flux does not rewrite (knex, Alembic,
   * …): `readHistory` lists its folder's migrations (their keys; `up` is not read), and ONE
   * baseline migration, recorded as applied, stands for those its ledger applied (see
   * `baseline.ts`). Default: one flux file per migration.
   */
  readonly kind?: 'ledger-only'
  /**
   * The flux file of a migration that is not a `.sql` one (default: `fluxFileText`): migrate-mongo's
   * `.mjs` wrapper, with the original file kept beside it.
   */
  fileOf?(migration: ForeignMigration, options: { store: string; parent: string | undefined }): FluxFile
}

/** A flux migration file that {@link ImportFormat.fileOf} writes, and the files it needs beside it. */
export interface FluxFile {
  /** With its dot: `.mjs`. The file is `<name><extension>`. */
  extension: string
  text: string
  /** Files written beside it (no migrations themselves), kept as they are on later imports. */
  companions?: { fileName: string; text: string }[]
}

/** A tool's folder as its format read it. */
export interface ForeignHistory {
  /** In the tool's order: each becomes one flux migration, the parent of the next. */
  migrations: ForeignMigration[]
  /** Files the tool itself ignores, relative to the folder, with why: shown to the user. */
  skipped?: { file: string; reason: string }[]
  /** What the folder says that reading the ledger needs: sqitch's `project`, whose rows are the history's. */
  ledger?: Record<string, string>
}

/** One migration of the other tool, ready to be written as a flux `.sql` file. */
export interface ForeignMigration {
  /** The tool's own name for it, as its ledger records it: golang-migrate's version, Prisma's folder. */
  key: string
  /**
   * The flux file name without `.sql` (so the last part of its id), in which the tool's key
   * can be recognised: `0010_add_run_result_counts`. Names sort in the tool's order.
   */
  name: string
  /** The files it comes from, relative to the tool's folder, for messages and the file's header. */
  sources: string[]
  /** The up SQL, byte for byte as the tool runs it. */
  up: string
  /** The down SQL, byte for byte; absent when the tool has none (flux then refuses to revert it). */
  down?: string
  /**
   * `false` when it must run outside a transaction (`-- flux:transaction off`): the tool says so
   * (diesel's `run_in_transaction = false`), or its SQL cannot run in one
   * ({@link needsNoTransaction}).
   */
  transaction: boolean
  /** Why `transaction` is false, for the file's header. */
  transactionReason?: string
  /** A migration the tool runs again when its file changes (Flyway `R__`): a flux repeatable. */
  repeatable?: boolean
}

/** What the tool's ledger says. */
export interface ForeignLedger {
  /** The ledger read, as the user knows it: `schema_migrations`. */
  table: string
  /** Keys of the migrations it applied (each a {@link ForeignMigration.key} of the history). */
  applied: string[]
}

/** What a pg store's `client()` offers, as far as import needs it. */
export interface SqlClient {
  query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<{ rows: Row[] }>
}
