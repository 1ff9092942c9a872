import { stat } from 'node:fs/promises'
import { type Adapter, FluxError, messageOf, unsetStore } from '@flux/core'
import { fsBlobs } from './fs-blobs.ts'
import { fsLease } from './fs-lease.ts'
import { fsJournal, type HeldLease } from './fs-ledger.ts'
import { type FsClient, type FsPaths, type FsStoreOptions, isErrorCode, resolvePaths } from './fs-options.ts'

/**
 * A store that is a directory on the local filesystem: blobs are the files under `root`,
 * the ledger and the lease live in `root/.flux/`.
 *
 * @example
 * ```ts
 * export default defineConfig({ stores: { photos: fsStore({ root: './var/photos' }) } })
 * ```
 */
export function fsStore(options: FsStoreOptions): Adapter<FsClient> {
  let paths: FsPaths
  try {
    paths = resolvePaths(options)
  } catch (error) {
    // no root (an unset variable): commands that open no store still work
    return unsetStore(error, { kind: 'fs', capabilities: { blobs: true } })
  }
  // the lease token this instance writes its ledger lines under, while it holds the lease
  const held: HeldLease = { token: undefined }
  const journal = fsJournal(paths, held)
  const lease = fsLease(paths, journal, held)
  const client: FsClient = Object.freeze({ ...fsBlobs(paths), root: paths.root })

  return {
    specVersion: 'v1',
    kind: 'fs',
    capabilities: { blobs: true },

    async open() {
      let isDirectory: boolean
      try {
        isDirectory = (await stat(paths.root)).isDirectory()
      } catch (error) {
        // a missing root is created by the first write
        if (isErrorCode(error, 'ENOENT')) return
        throw new FluxError('STORE_UNAVAILABLE', `cannot open ${paths.description}: ${messageOf(error)}`, {
          hint: `check that ${paths.root} is a directory this user can read and write`,
          cause: error,
        })
      }
      if (!isDirectory) {
        throw new FluxError('STORE_UNAVAILABLE', `cannot open ${paths.description}: ${paths.root} is not a directory`, {
          hint: `point root at a directory, or move ${paths.root} out of the way`,
        })
      }
    },

    async close() {},

    describe: () => paths.description,
    client: () => client,
    ledger: journal.ledger,
    acquire: (acquireOptions) => lease.acquire(acquireOptions),
    inspectLease: () => lease.inspect(),
    breakLease: () => lease.breakLease(),
  }
}
