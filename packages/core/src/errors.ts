const MARKER = Symbol.for('flux.error')

/** Exit codes of the `flux` command, documented in DESIGN.md and `flux --help`. */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  integrity: 3,
  lease: 4,
} as const
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]

/** Every stable error code, with the exit code the CLI uses for it. */
const CODES = {
  // 1: a migration failed, or a store could not be reached
  MIGRATION_FAILED: ExitCode.failed,
  STORE_UNAVAILABLE: ExitCode.failed,
  STORE_ERROR: ExitCode.failed,
  LEASE_LOST: ExitCode.failed,
  INTERRUPTED: ExitCode.failed,
  BLOB_NOT_FOUND: ExitCode.failed,
  // 2: bad usage, config or migrations; nothing was applied
  USAGE: ExitCode.usage,
  CONFIG_NOT_FOUND: ExitCode.usage,
  CONFIG_INVALID: ExitCode.usage,
  MIGRATION_INVALID: ExitCode.usage,
  GRAPH_INVALID: ExitCode.usage,
  TARGET_INVALID: ExitCode.usage,
  KEY_INVALID: ExitCode.usage,
  IRREVERSIBLE: ExitCode.usage,
  // 3: integrity
  DRIFT: ExitCode.integrity,
  MISSING: ExitCode.integrity,
  DIRTY: ExitCode.integrity,
  SUM_MISMATCH: ExitCode.integrity,
  INTEGRITY: ExitCode.integrity,
  // 4: lease
  LEASE_TIMEOUT: ExitCode.lease,
} as const satisfies Record<string, ExitCode>

export type FluxErrorCode = keyof typeof CODES

export interface FluxErrorOptions {
  /** What the user can do about it, one sentence. */
  hint?: string
  /** Name of the store concerned. */
  store?: string
  /** Id of the migration concerned. */
  migration?: string
  /** File concerned (config, migration, flux.sum). */
  file?: string
  /** Where in a file the error happened, `file:line:column` (relative to the project), when known. */
  location?: string
  /** More structured detail, JSON-serializable, for `--json`. */
  details?: Record<string, unknown>
  cause?: unknown
}

/**
 * The one error class of flux. `code` is stable and maps to an exit code; the message is
 * lower-case, names the thing concerned and says what happened; `hint` says what to do.
 * Check with `FluxError.is(error)`, not `instanceof`: adapters may load another copy of core.
 */
export class FluxError extends Error {
  readonly code: FluxErrorCode
  readonly hint: string | undefined
  readonly store: string | undefined
  readonly migration: string | undefined
  readonly file: string | undefined
  readonly location: string | undefined
  readonly details: Record<string, unknown> | undefined

  constructor(code: FluxErrorCode, message: string, options: FluxErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'FluxError'
    this.code = code
    this.hint = options.hint
    this.store = options.store
    this.migration = options.migration
    this.file = options.file
    this.location = options.location
    this.details = options.details
    Object.defineProperty(this, MARKER, { value: true })
  }

  get exitCode(): ExitCode {
    return exitCodeOf(this.code)
  }

  static is(error: unknown): error is FluxError {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[MARKER] === true
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      hint: this.hint,
      store: this.store,
      migration: this.migration,
      file: this.file,
      location: this.location,
      details: this.details,
      cause: this.cause instanceof Error ? this.cause.message : undefined,
    }
  }
}

export function exitCodeOf(code: string): ExitCode {
  return (CODES as Record<string, ExitCode>)[code] ?? ExitCode.failed
}

/** The message of anything thrown, for wrapping. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message
  return String(error)
}
