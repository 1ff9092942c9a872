import type { Adapter } from '../adapter.ts'

/** One fresh, empty namespace of a store (a directory, a schema, a key prefix…), for one test. */
export interface ConformanceStore {
  /**
   * A new adapter instance over the same namespace as every other `create()` of this
   * store: the suite uses several instances to stand for several processes.
   */
  create(): Adapter
  /** Removes what the test created (directory, table…). Called once, after the test. */
  cleanup(): Promise<void>
  /**
   * Optional: the names of everything the namespace holds now (files, tables, keys), raw,
   * including the adapter's own ledger and lease. Lets the suite check that reading a
   * never-migrated store creates nothing; without it that check is skipped.
   */
  contents?(): Promise<string[]>
}

/** How an adapter package runs the suite against its real server. */
export interface ConformanceOptions {
  /** A fresh, empty store namespace for one test. */
  setup(): Promise<ConformanceStore>
  /** Strings that must never appear in `describe()`, error messages or JSON of errors (passwords, tokens). */
  secrets?: string[]
  /**
   * An adapter whose target cannot be reached or opened. Optional: when given, the suite
   * checks that `open()` fails with `STORE_UNAVAILABLE` and shows no secret.
   */
  unreachable?(): Adapter
}
