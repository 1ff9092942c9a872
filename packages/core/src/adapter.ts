/**
 * The adapter contract, version `v1`: the one interface every store implements.
 *
 * An adapter knows one kind of store (`pg`, `fs`, `redis`…). The application creates one
 * adapter per configured store with the adapter package's factory (`fsStore({ root })`),
 * and core drives it: open it, read its ledger, lease it, run migrations against its
 * client, record them in its ledger, release it, close it. Core never assumes that any
 * particular store exists: every store keeps its own ledger and its own lease.
 *
 * Rules every implementation follows (the conformance suite in `@flux/core/testing`
 * checks them against a real server):
 * - `describe()`, error messages and anything logged never contain a secret;
 * - ledger writes are atomic: a reader sees an entry before or after a write, never half;
 * - a lease is exclusive across processes and hosts; it expires when not renewed;
 * - ledger writes are **fenced** by the lease (see {@link Ledger}): once another runner has
 *   taken the lease over, the store itself refuses the old holder's ledger writes;
 * - `close()` never closes a client the user passed in.
 *
 * ## Fencing, store by store
 *
 * A lease alone does not stop a runner that froze past its ttl (a GC pause, a suspended VM, a
 * network partition) from writing when it wakes up, after another runner took over. So every
 * lease has a fencing token that changes at every acquisition or take-over, and the store checks
 * it atomically with each write of the holder's ledger. What each store can protect:
 *
 * | store | ledger writes | a migration's own writes |
 * | --- | --- | --- |
 * | pg | checked against the lease row in the migration's transaction, under a row lock the take-over must wait for | fenced with the ledger row: a transactional migration of a stale runner never commits; `transaction: false` migrations are not |
 * | mongo (replica set) | as pg, in the migration's transaction | fenced, as pg |
 * | mongo (standalone) | inserts only, numbered from a block registered in the lease document, whose unused numbers a take-over occupies, so the `_id` index refuses a stale write (FerretDB 1.x checks the registration without atomicity) | not fenced |
 * | redis | compare-and-set script on the lease token | not fenced |
 * | fs | every journal line carries its lease token; a take-over appends a fence line, after which the old token's lines are void | not fenced |
 * | s3 | compare-and-swap on the ledger object, whose fence a take-over moves | not fenced |
 *
 * "Not fenced": a migration that was running when its runner froze finishes the writes it had
 * begun when the runner wakes up, then fails at its ledger write; the store is left with the
 * migration `dirty` (its `running` entry) for `flux resolve` to settle. No stale runner ever
 * starts another step: the runner checks its leases before each one.
 */
import type { Readable } from 'node:stream'
import type { MigrationDefinition } from './migration.ts'

/** Version of this contract. Core can bridge older adapters when it changes. */
export type AdapterSpecVersion = 'v1'

/**
 * What a store can do beyond the required members. Every capability is optional and
 * defaults to `false`; core reads them through {@link capabilitiesOf}, so adding one
 * never breaks an existing adapter. Core reads them again after `open()`, so an adapter
 * may decide them when it connects (MongoDB has transactions on replica sets only).
 */
export interface Capabilities {
  /**
   * The store can commit a migration and its ledger record together (see
   * {@link Adapter.transaction}). Default: `false`, and then core uses the
   * running → applied protocol, in which a crash leaves the migration `dirty`.
   */
  readonly transactions?: boolean
  /**
   * The client offers the shared blob API ({@link BlobStore}), so components written for
   * "any blob store" can be bound to it. Default: `false`.
   */
  readonly blobs?: boolean
}

/** Where a migration stands in one store's ledger. */
export type LedgerStatus = 'applied' | 'running'

/**
 * One record of a store's ledger. Plain JSON: adapters store it as they like
 * (a row, a document, a hash field, a file) and must give it back unchanged.
 */
export interface LedgerEntry {
  /** Migration id, `component/name`. Unique within one ledger. */
  id: string
  /** `sha256:<hex>` of the migration's source when it was applied. */
  checksum: string
  /**
   * `applied`: done. `running`: started and not finished; when no runner holds the lease,
   * the migration is **dirty** (the runner crashed, or the store went away, mid-step).
   */
  status: LedgerStatus
  /** ISO-8601 time the step started (`running`) or finished (`applied`). */
  appliedAt: string
  /** How long the step took, in milliseconds; 0 while running. */
  durationMs: number
  /** Id of the run that wrote the entry: the same for every step of one `flux up`. */
  runId: string
  /** Version of `@flux/core` that wrote the entry. */
  fluxVersion: string
  /** Last value a long data migration saved with `ctx.checkpoint.save()`, so it can resume. */
  checkpoint?: unknown
}

/**
 * The record, kept inside the store itself, of which migrations were applied there.
 * Core calls it only while it holds the store's lease (except `read`, which `status`
 * calls without one).
 *
 * **Fencing.** While the adapter instance holds a lease (from `acquire()` until `release()`),
 * every `record` and `remove` — direct, or through the ledger passed to `transaction()` — is
 * conditional on that lease still being the store's current one, checked by the store
 * atomically with the write. When another runner has taken the lease over (or `flux unlock`
 * broke it), the write changes nothing and rejects with `LEASE_LOST`, whose message says the
 * lease was taken over and names the new holder (host and pid) where the store knows it, with
 * the holder in `details.holder`. This stays so after the lease fired `lost`: a lost lease is
 * never current again. An instance that holds no lease writes unconditionally (`flux mark`,
 * tests); core itself always writes under a lease.
 */
export interface Ledger {
  /**
   * Every entry, in the order they were first recorded (oldest first). An empty array for a
   * store that was never migrated: reading must not require setup and must create nothing.
   * Core reads each ledger once per run (one round trip where the store allows it).
   */
  read(): Promise<LedgerEntry[]>
  /**
   * Inserts the entry, or replaces the entry with the same id (keeping its place in the
   * order). Creates the ledger's table, collection, file or key on first use.
   */
  record(entry: LedgerEntry): Promise<void>
  /** Removes the entry with this id; removing an absent id is not an error. */
  remove(id: string): Promise<void>
  /**
   * Optional: makes several changes in one write where the store allows it (one request, one
   * append, one fsync), in order, with the same fencing as `record` and `remove`. A later change
   * must never land without the earlier ones: all of them, or a first part, or none (one atomic
   * write is best). Core uses it for steps without a transaction that run back to back on the
   * store: one step's `applied` record goes with the next step's `running` record. Without it,
   * core makes the changes one by one.
   */
  write?(changes: readonly LedgerChange[]): Promise<void>
  /**
   * Optional, and no I/O: the ids that the next writes will record or remove, in order. Core
   * says so before a chain of steps without a transaction. A ledger that must announce an
   * entry before writing it under a lease announces them all at once instead of one per write.
   */
  expect?(ids: readonly string[]): void
}

/** One change of a {@link Ledger.write}: an entry inserted or replaced, or an id removed. */
export type LedgerChange = { record: LedgerEntry } | { remove: string }

/** Who holds (or wants) a lease: shown to a user who has to wait, and by `flux unlock`. */
export interface LeaseHolder {
  /** Host name of the process. */
  host: string
  /** Process id on that host. */
  pid: number
  /** Id of the run; the same run id is also written to the ledger entries it records. */
  runId: string
  /** ISO-8601 time the lease was taken. */
  since: string
  /** ISO-8601 time it expires unless renewed, where the store knows it. */
  expiresAt?: string
  /** The fencing epoch of the lease it holds, where the store keeps one (see {@link Lease.epoch}). */
  epoch?: number
}

/** Options core passes to {@link Adapter.acquire}. */
export interface AcquireOptions {
  /** Name of the store in the config (`photos`), for messages: adapters do not know it otherwise. */
  store: string
  /**
   * How long the lease lives without renewal, in milliseconds. The lease renews itself
   * every third of this time; a holder that dies is replaced after at most `ttlMs`.
   */
  ttlMs: number
  /** How long to wait for a lease that someone else holds before failing with `LEASE_TIMEOUT`. */
  waitMs: number
  /** Who is asking: written into the lease so that a waiting user can be told. */
  holder: LeaseHolder
  /**
   * Called while waiting, each time the current holder is seen (at most about once a second),
   * so the CLI can say whom we wait for. `undefined` when the holder could not be read.
   */
  onWait?: (holder: LeaseHolder | undefined) => void
  /** Aborts the wait (SIGINT while waiting for a lease). */
  signal?: AbortSignal
}

/**
 * An exclusive, expiring claim on one store, held by one runner while it migrates it.
 * Adapters build it with `createLease()` from `@flux/core`, which renews it on a timer
 * and fires `lost`.
 */
export interface Lease {
  /** Extends the lease by `ttlMs`. Rejects with `LEASE_LOST` when someone else holds it now. */
  renew(): Promise<void>
  /** Gives the lease up. Releasing a lease that was lost or already released does nothing. */
  release(): Promise<void>
  /**
   * Aborted when the lease could not be renewed before it expired, or was taken over.
   * The runner stops before its next step; migrations see it through `ctx.signal`.
   */
  readonly lost: AbortSignal
  /**
   * The fencing epoch: a number the store raises at every acquisition and take-over of this
   * store's lease, so a later holder always has a greater one. Shown in messages and events;
   * the store checks its own token against it. Absent where the store keeps no counter
   * (its fencing token is then an opaque value the adapter keeps to itself).
   */
  readonly epoch?: number
}

/** Body accepted by {@link BlobStore.put}. */
export type BlobBody = string | Uint8Array | Readable

/**
 * The blob API shared by stores of files and objects (`fs`, `s3`), so that a reusable
 * component is written once for "any blob store". Keys are `/`-separated relative paths
 * (`photos/2026/a.jpg`); a key that is empty, absolute, or contains `.`/`..` segments is
 * refused with an error naming the key.
 */
export interface BlobStore {
  /** Writes the object, replacing it. Bodies may be streams, for large files. */
  put(key: string, body: BlobBody): Promise<void>
  /** Reads the whole object. Rejects with code `BLOB_NOT_FOUND` when it is absent. */
  get(key: string): Promise<Buffer>
  /** Keys under `prefix` (a plain string prefix, `''` for all), sorted, never the ledger's own. */
  list(prefix?: string): Promise<string[]>
  /** Deletes the object; deleting an absent key is not an error. */
  delete(key: string): Promise<void>
  /** Renames `from` to `to`, replacing `to`. Rejects with `BLOB_NOT_FOUND` when `from` is absent. */
  move(from: string, to: string): Promise<void>
  /** Whether the object exists. */
  exists(key: string): Promise<boolean>
}

/**
 * One configured store. `Client` is what a migration receives as `ctx.store` when this
 * store is its home, and as `ctx.stores.<name>` when it `uses` it.
 *
 * @example
 * ```ts
 * export default defineConfig({ stores: { photos: fsStore({ root: './var/photos' }) } })
 * ```
 */
/** What core tells `open()` about the run ahead. */
export interface OpenOptions {
  /**
   * `false` when this run is unlikely to take the store's lease: a command that only reads, or
   * a fleet member that is probably at its target already. An adapter that prepares a lease
   * ahead (a connection of its own, opened while the run plans) can skip it. Default `true`.
   */
  leaseLikely?: boolean
  /**
   * Set when core opens many stores of one kind in a run, a few at a time (a fleet's members):
   * one map for all of them, where an adapter may keep, under keys of its own, what they can
   * share (a server's connections, a client). Each store still behaves as if it had its own:
   * what one store's migrations change in a shared session must not reach another's. The adapter
   * releases what it keeps once no open store uses it.
   */
  shared?: Map<string, unknown>
}

/** See {@link Adapter.fleetBoard}. Times are the store's own clock, as ISO-8601 strings. */
export interface FleetBoard {
  /** Records that `members` of `fleet` were at `head` (a digest of its migrations) just now. Creates what it needs on first use. */
  mark(fleet: string, members: readonly string[], head: string): Promise<void>
  /**
   * The members of `fleet` marked at `head` at or after `since` (none when `since` is
   * undefined), and the store's time now. Reading creates nothing.
   */
  read(fleet: string, head: string, since: string | undefined): Promise<{ members: string[]; now: string }>
  /**
   * Optional: claims `member` of `fleet` for the runner `runner` before it visits the member,
   * so that the other runners sharing the fleet go elsewhere rather than open sessions to a
   * member being migrated. `'mine'`: the claim is this runner's (made, or made again);
   * `'theirs'`: another runner's claim made less than `ttlMs` ago stands; `'marked'`: the
   * member was marked at `head` at or after `since`, and is not claimed. A mark replaces the
   * claim. A claim is a hint: the member's own lease still decides who migrates it.
   */
  claim?(
    fleet: string,
    member: string,
    head: string,
    runner: string,
    since: string,
    ttlMs: number,
  ): Promise<'mine' | 'theirs' | 'marked'>
}

export interface Adapter<Client = unknown> {
  /** Contract version: always `'v1'` for this interface. */
  readonly specVersion: AdapterSpecVersion
  /** Kind of store: `'pg' | 'mongo' | 'redis' | 'fs' | 's3'`, or a third party's. */
  readonly kind: string
  /** What the store can do; every member defaults to `false`. */
  readonly capabilities?: Capabilities
  /**
   * Connects (or checks that the directory, bucket… is reachable). Fails fast with a
   * `STORE_UNAVAILABLE` error that says what is wrong and shows `describe()`, not a secret.
   * Called once by core before anything else; creates nothing in the store.
   */
  open(options?: OpenOptions): Promise<void>
  /** Disconnects what `open()` connected. Never closes a client the user passed in. */
  close(): Promise<void>
  /** The target without secrets, for humans: `"fs /srv/app/var/photos"`, `"pg 127.0.0.1:5432/app"`. */
  describe(): string
  /** What migrations receive for this store. Valid between `open()` and `close()`. */
  client(): Client
  /** This store's ledger. */
  readonly ledger: Ledger
  /**
   * Takes the store's lease, waiting up to `waitMs` while someone else holds it; takes it
   * over when the holder's lease has expired. Rejects with `LEASE_TIMEOUT` naming the
   * holder when the wait runs out, with `INTERRUPTED` when `signal` aborts.
   */
  acquire(options: AcquireOptions): Promise<Lease>
  /** The current holder of the lease, or `undefined` when it is free. Used by `flux unlock`. */
  inspectLease(): Promise<LeaseHolder | undefined>
  /**
   * Frees the lease whoever holds it, and returns who held it. Only `flux unlock` calls this,
   * on a user's explicit order, for a lease whose holder is known to be gone.
   */
  breakLease(): Promise<LeaseHolder | undefined>
  /**
   * Runs `fn` in one transaction of the store, and commits it when `fn` resolves: the
   * migration and its ledger record (written through the `ledger` passed to `fn`) commit
   * together or not at all. Present only when `capabilities.transactions` is true.
   */
  transaction?<T>(fn: (client: Client, ledger: Ledger) => Promise<T>): Promise<T>
  /**
   * Where present (with `transaction`): runs each function as `transaction()` would, in a
   * transaction of its own that commits with what it wrote to its ledger, in order, but
   * lets the store send them together in as few round trips as it can (pg sends a run of
   * SQL migrations as one script). It stops at the first that fails: those before it are
   * committed, it and those after it are not (those after it never run). It resolves,
   * rather than rejects, with how it ended, and calls `onCommit` as they commit.
   *
   * Core gives it consecutive steps of one store whose statements are known before they run
   * (`.sql` migrations, which queue their statements rather than wait for results), so no
   * step acts on anything else between its neighbours' commits.
   */
  transactionBatch?(
    fns: ReadonlyArray<(client: Client, ledger: Ledger) => Promise<void>>,
    options?: BatchOptions,
  ): Promise<BatchOutcome>
  /**
   * Optional: a board where the runners that share a fleet (`fleet({ board })` names this
   * store) tell each other which members they found at the fleet's head, so that each runner
   * visits only the members nobody has confirmed since it started. Kept apart from the ledger.
   */
  fleetBoard?: FleetBoard
  /**
   * Optional: compares the store with the schema the application declares for it (an adapter
   * option, such as pg's `declared: 'db/schema.sql'`) and returns a candidate migration that
   * would make the store match it, in the language of the store's migration files (SQL for
   * pg): `up` and `down` statements in order, without their `;`, and `notes` for the person
   * who reviews it (choices made, such as a drop and an add that may have been a rename, and
   * what was not generated), one line each. It never changes the store. `flux new
   * --autogenerate` calls it between `open()` and `close()` and writes the file. `undefined`
   * or an empty `up`: the store already matches, nothing to generate. Throws `CONFIG_INVALID`
   * when the store has no declaration or it is invalid. Absent: the store cannot autogenerate.
   *
   * Renames: where a drop and an add may have been a rename, the result lists it in `renames`
   * (an `id`, stable from one call to the next, and a yes/no `question` naming both), and
   * writes the drop and the add, with a note. On a terminal `flux new` asks each question and,
   * when one is answered yes, calls again with those ids in `options.renames`: the adapter then
   * writes each as a rename instead.
   *
   * `language`: what `up` and `down` are written in. `'sql'` (the default): SQL statements,
   * written as a `.sql` migration. `'typescript'`: TypeScript statements over `store`, the
   * store's client (`await store.db.collection('users').dropIndex('email_1')`), which `flux new`
   * writes, in order, into the `up()` and `down()` of a `.ts` migration typed for the store
   * (mongo, whose migrations are TypeScript).
   */
  autogenerate?(options?: { renames?: readonly string[] }): Promise<
    | {
        up: string[]
        down: string[]
        notes: string[]
        renames?: { id: string; question: string }[]
        language?: 'sql' | 'typescript'
      }
    | undefined
  >
  /**
   * Migration files this kind of store reads besides TypeScript and JavaScript, such as
   * `.sql` for pg. Core gives a file with one of these extensions to the first configured
   * store whose adapter lists it. Absent: the adapter reads no other files.
   */
  readonly migrationFiles?: MigrationFileLoader
  /**
   * Optional: checks this store's migrations whose statements are known before they run
   * (`definition.sql`) for what takes a long lock or destroys data, with no connection. Gets
   * every migration of the store in run order (earlier ones tell what exists: tables, views),
   * and returns what it found, for `flux lint` and `flux plan`. Absent: the store's migrations
   * are not linted. pg parses them with PostgreSQL's own parser.
   */
  lint?(migrations: readonly LintSubject[]): Promise<LintFinding[]>
}

/** One migration given to {@link Adapter.lint}. */
export interface LintSubject {
  id: string
  /** Path for messages, relative to the working directory (from which the adapter may read it). */
  file: string
  definition: MigrationDefinition
}

/** What {@link Adapter.lint} reports about one statement of a migration. */
export interface LintFinding {
  /** The migration's id. */
  migration: string
  file: string
  /** 1-based line of the statement in `file`, where the adapter knows it (`.sql` files). */
  line?: number
  /** Which section the statement is in. */
  direction: 'up' | 'down'
  /** 1-based index of the statement in its section. */
  statement: number
  /** Stable id of the rule: `index-not-concurrent`. */
  rule: string
  /** `error` fails `flux lint`; `warning` is shown only. */
  severity: 'error' | 'warning'
  /** What is wrong, naming the table, column or index. */
  message: string
  /** The safe alternative, and how to accept the finding on purpose. */
  hint: string
}

/** Options core passes to {@link Adapter.transactionBatch}. */
export interface BatchOptions {
  /** Called when more of the transactions are known to have committed: how many, from the first. */
  onCommit?(committed: number): void
  /**
   * Once aborted (SIGINT, a lost lease), nothing more is sent to the store: what it was sent
   * still runs, and the first transaction not sent fails with `signal.reason`.
   */
  signal?: AbortSignal
}

/** How {@link Adapter.transactionBatch} ended. */
export interface BatchOutcome {
  /** How many of the functions, from the first, committed. */
  committed: number
  /**
   * The one that failed (`index` equals `committed`) and its error, as `transaction()` would
   * have rejected with it. Absent when every function committed.
   */
  failed?: { index: number; error: unknown }
}

/** Reads migration files of another language into a migration definition. */
export interface MigrationFileLoader {
  /** File extensions with their dot: `['.sql']`. */
  readonly extensions: readonly string[]
  /**
   * Parses one file. `file` is the path to name in messages; the result must run what the
   * file says when core calls its `up`/`down`, and should carry `sql` for `flux plan --sql`.
   * Throws a `MIGRATION_INVALID` error naming the file and line of a problem.
   */
  load(file: string, text: string): MigrationDefinition
}

/** An adapter's capabilities with their defaults applied. */
export function capabilitiesOf(adapter: Adapter): Required<Capabilities> {
  return {
    transactions: adapter.capabilities?.transactions === true && typeof adapter.transaction === 'function',
    blobs: adapter.capabilities?.blobs === true,
  }
}

/** Whether core may send several of the store's transactional steps together ({@link Adapter.transactionBatch}). */
export function batchesTransactions(adapter: Adapter): boolean {
  return capabilitiesOf(adapter).transactions && typeof adapter.transactionBatch === 'function'
}
