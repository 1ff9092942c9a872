import { join, resolve } from 'node:path'
import { type BlobStore, FluxError, messageOf } from '@flux/core'

/** Directory under the store's root that holds flux's own files: the ledger and the lease. */
export const DEFAULT_FLUX_DIR = '.flux'

export interface FsStoreOptions {
  /**
   * The directory that holds the store's files. A relative path is resolved against the
   * current directory when `fsStore()` runs. It may be missing: it is created on first write.
   */
  root: string | undefined
  /**
   * Name of the directory under `root` for the ledger (`ledger.jsonl`) and the lease.
   * Blob keys cannot start with it. Default {@link DEFAULT_FLUX_DIR}.
   */
  fluxDir?: string
}

/** What a migration receives for an fs store: the shared blob API, and the absolute root. */
export type FsClient = BlobStore & {
  /** Absolute path of the store's directory, for migrations that need plain `node:fs`. */
  readonly root: string
}

/** Every path the adapter uses, resolved once. */
export interface FsPaths {
  /** Absolute root. */
  readonly root: string
  /** `fs <root>`, for messages. */
  readonly description: string
  /** Name of flux's own directory under the root (`.flux`). */
  readonly fluxDir: string
  /** Absolute path of flux's own directory. */
  readonly dir: string
  /** The journal's first file, `ledger.jsonl`; it goes on in `ledger.<n>.jsonl` beside it once compacted. */
  readonly ledger: string
  readonly lease: string
  /** Directory of the per-token heartbeat and claim files. */
  readonly leases: string
}

export function resolvePaths(options: FsStoreOptions): FsPaths {
  if (typeof options?.root !== 'string' || options.root === '') {
    throw new FluxError('CONFIG_INVALID', 'fsStore() needs a `root` directory', {
      hint: "pass the directory that holds the store's files: fsStore({ root: './var/photos' })",
      // core names the store, and the unset variable behind it
      details: { missing: ['root'] },
    })
  }
  const fluxDir = options.fluxDir ?? DEFAULT_FLUX_DIR
  if (fluxDir === '' || fluxDir === '.' || fluxDir === '..' || /[/\\]/.test(fluxDir)) {
    throw new FluxError('CONFIG_INVALID', `fsStore() got an invalid fluxDir ${JSON.stringify(fluxDir)}`, {
      hint: `fluxDir is one directory name under the root, like "${DEFAULT_FLUX_DIR}"`,
    })
  }
  const root = resolve(options.root)
  const dir = join(root, fluxDir)
  return {
    root,
    description: `fs ${root}`,
    fluxDir,
    dir,
    ledger: join(dir, 'ledger.jsonl'),
    lease: join(dir, 'lease.json'),
    leases: join(dir, 'leases'),
  }
}

/** The `code` of a Node.js system error (`ENOENT`…), if it has one. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  return typeof code === 'string' ? code : undefined
}

/** Whether `error` is a system error with one of these codes. */
export function isErrorCode(error: unknown, ...codes: string[]): boolean {
  const code = errorCode(error)
  return code !== undefined && codes.includes(code)
}

/** Wraps an unexpected filesystem error; a `FluxError` passes through unchanged. */
export function storeError(paths: FsPaths, action: string, error: unknown): FluxError {
  if (FluxError.is(error)) return error
  return new FluxError('STORE_ERROR', `could not ${action} in ${paths.description}: ${messageOf(error)}`, {
    hint: 'check that the directory is writable by this user and that the disk is not full',
    cause: error,
  })
}

/** Ignores "already gone" errors: for removing files whose absence is the goal. */
export function ignoreMissing(error: unknown): void {
  if (!isErrorCode(error, 'ENOENT', 'ENOTDIR')) throw error
}
