const MARKER = Symbol.for('flux.migration')

/** A progress bar a long data migration drives: `const bar = ctx.progress(total)`. */
export interface Progress {
  /** Adds `count` (default 1) to what is done. */
  advance(count?: number): void
  /** Sets what is done. */
  set(done: number): void
}

/** What a migration receives. */
export interface MigrationContext<Client = any, Clients extends Record<string, unknown> = Record<string, any>> {
  /** The home store's client. */
  store: Client
  /** Clients of the other stores the migration declared in `uses`, by store name. */
  stores: Clients
  /** Writes a line to the run's log, tagged with the migration id. */
  log(message: string): void
  /** Starts a progress bar: drawn on a terminal, a plain line every 10% or 5 s elsewhere, JSON lines on stderr under `--json`. */
  progress(total: number): Progress
  /**
   * The last value saved with `save()` in an earlier, crashed run of this migration
   * (`undefined` on a first run), and a way to save a new one into the ledger, so a long
   * data migration resumes where it stopped instead of starting over.
   */
  checkpoint: { readonly value: unknown; save(value: unknown): Promise<void> }
  /** Aborted when the run is cancelled (SIGINT, SIGTERM) or a lease is lost: stop soon. */
  signal: AbortSignal
  /** Who is running. */
  migration: { id: string; component: string; name: string; store: string; direction: 'up' | 'down' }
}

export interface MigrationDefinition<Client = any, Clients extends Record<string, unknown> = Record<string, any>> {
  /** Name of the home store (or, in a reusable component, of the role): changed, leased, recorded there. */
  store: string
  /** Other stores the migration reads or writes; they are leased too and appear in `ctx.stores`. */
  uses?: string[]
  /**
   * Migrations of the same component this one follows, by name (`20260101000000_init`) or
   * id. Default: the previous file of the component; `[]` makes it a root.
   */
  parents?: string[]
  /** Migrations of other components this one follows, by id (`@travel/images/20260101000000_init`). */
  after?: string[]
  /**
   * Run in one transaction with the ledger record, where the store has transactions.
   * Default `true`; `false` for statements that cannot run in a transaction.
   */
  transaction?: boolean
  /** `true`: re-run whenever the file changes; `'always'`: on every `up`. Default `false`. */
  repeatable?: boolean | 'always'
  /**
   * Its `down` destroys data (drops a collection, deletes files): `true`, or what it destroys
   * (`'deletes every photo'`). `flux down` lists it and asks before running it (exits 2 off a
   * terminal unless `--yes`). `.sql` down sections are checked for `drop table`, `drop column`
   * and `truncate` without it. Default `false`.
   */
  destroysData?: boolean | string
  /**
   * The statements `up` and `down` run, where they are known before running (`.sql` files),
   * so `flux plan --sql` can show them for review. Migrations that compute their changes at
   * run time leave it out.
   */
  sql?: { up: readonly string[]; down?: readonly string[] }
  up(context: MigrationContext<Client, Clients>): Promise<void> | void
  /**
   * Checks the store for `up`'s changes, after a crash left the migration dirty:
   * `true` all are there, `false` none are, `undefined` can't tell (a human decides).
   * `flux resolve --auto` records the answer.
   */
  verify?(context: MigrationContext<Client, Clients>): Promise<boolean | undefined> | boolean | undefined
  /** Undoes `up`. A migration without `down` cannot be reverted. */
  down?(context: MigrationContext<Client, Clients>): Promise<void> | void
}

/**
 * Declares a migration; a migration file's default export.
 *
 * @example
 * ```ts
 * import { defineMigration } from '@flux/core'
 * import type { FsClient } from '@flux/fs'
 *
 * export default defineMigration<FsClient>({
 *   store: 'photos',
 *   async up({ store }) { await store.put('README.txt', 'photos live here') },
 *   async down({ store }) { await store.delete('README.txt') },
 * })
 * ```
 */
export function defineMigration<Client = any, Clients extends Record<string, unknown> = Record<string, any>>(
  definition: MigrationDefinition<Client, Clients>,
): MigrationDefinition<Client, Clients> {
  Object.defineProperty(definition, MARKER, { value: true })
  return definition
}

export function isMigrationDefinition(value: unknown): value is MigrationDefinition {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[MARKER] === true
}
