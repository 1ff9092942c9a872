import { randomUUID } from 'node:crypto'
import { lstatSync, realpathSync } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import { mkdir, open, readdir, readFile, realpath, rename, rmdir, stat, unlink } from 'node:fs/promises'
import { basename, dirname, join, sep } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { type BlobBody, type BlobStore, blobKeyProblem, FluxError, invalidBlobKey } from '@flux/core'
import { type FsPaths, ignoreMissing, isErrorCode, storeError } from './fs-options.ts'

/** Name of a blob being written: `.<name>.<uuid>.flux-tmp`, next to it, renamed into place when complete. */
const TEMP_NAME = /^\..*\.[0-9a-f-]{36}\.flux-tmp$/

/** The blob API over the files under the store's root; keys are `/`-separated paths relative to it. */
export function fsBlobs(paths: FsPaths): BlobStore {
  const invalid = (key: string, reason: string) => invalidBlobKey(key, paths.description, reason)

  const keyProblem = (key: string): string | undefined =>
    blobKeyProblem(key, paths.fluxDir) ??
    (TEMP_NAME.test(key.slice(key.lastIndexOf('/') + 1)) ? 'its name is reserved for files being written' : undefined)

  /** The file of a valid key whose real path, through any existing symlink, stays under the root. */
  const fileOf = async (key: string): Promise<string> => {
    const problem = keyProblem(key)
    if (problem) throw invalid(key, problem)
    const segments = key.split('/')
    try {
      await checkContained(key, segments)
    } catch (error) {
      throw storeError(paths, `resolve blob key "${key}"`, error)
    }
    return join(paths.root, ...segments)
  }

  /** Whether a real path is under the (real) root and outside flux's own directory. */
  const isInside = (real: string, rootReal: string) =>
    real.startsWith(rootReal + sep) && !`${real}${sep}`.startsWith(join(rootReal, paths.fluxDir) + sep)

  // Synchronous: these look-ups of metadata take microseconds each, where each one through the
  // thread pool costs a round trip of its own, and every put() and get() makes three or four.
  const checkContained = async (key: string, segments: string[]) => {
    const rootReal = realpathSyncIfAny(paths.root)
    if (rootReal === undefined) return
    for (let length = segments.length; length > 0; length--) {
      const prefix = join(paths.root, ...segments.slice(0, length))
      const real = realpathSyncIfAny(prefix)
      if (real === undefined) {
        if (lstatSyncIfAny(prefix)?.isSymbolicLink()) {
          throw invalid(key, `it goes through the symbolic link ${prefix}, which points nowhere`)
        }
        continue
      }
      if (real !== rootReal && !isInside(real, rootReal)) {
        throw invalid(key, `it leads out of the store through a symbolic link, to ${real}`)
      }
      return
    }
  }

  const notFound = (key: string) =>
    new FluxError('BLOB_NOT_FOUND', `blob "${key}" not found in ${paths.description}`, {
      hint: 'check the key; list(prefix) shows the keys that exist',
    })

  const clash = (key: string, cause: unknown) =>
    new FluxError('KEY_INVALID', `blob key "${key}" clashes with another key in ${paths.description}`, {
      hint: 'a directory cannot hold both a blob "x" and blobs under "x/"; rename one of them',
      cause,
    })

  /**
   * Creates an exclusive temp file in `directory`, creating the directory when it is missing
   * (first tried without: it mostly exists); retried when a concurrent delete removes it.
   */
  const openTemp = async (directory: string, name: string): Promise<{ temp: string; handle: FileHandle }> => {
    const temp = join(directory, `.${name}.${randomUUID()}.flux-tmp`)
    for (let tries = 0; ; tries++) {
      try {
        return { temp, handle: await open(temp, 'wx') }
      } catch (error) {
        if (!isErrorCode(error, 'ENOENT') || tries >= 3) throw error
      }
      await mkdir(directory, { recursive: true })
    }
  }

  /** Writes `file` atomically: a complete, fsynced temp file renamed over it. */
  const writeAtomically = async (key: string, file: string, body: BlobBody) => {
    let temp: string | undefined
    try {
      const opened = await openTemp(dirname(file), basename(file))
      temp = opened.temp
      if (typeof body === 'string' || body instanceof Uint8Array) {
        try {
          await opened.handle.writeFile(body)
          await opened.handle.sync()
        } finally {
          await opened.handle.close()
        }
      } else {
        // streamed, not buffered; `flush` fsyncs before the stream closes the handle
        await pipeline(body, opened.handle.createWriteStream({ flush: true }))
      }
      await rename(temp, file)
    } catch (error) {
      if (temp) await unlink(temp).catch(ignoreMissing)
      destroyUnread(body)
      if (isErrorCode(error, 'EISDIR', 'ENOTDIR', 'EEXIST', 'ENOTEMPTY')) throw clash(key, error)
      throw storeError(paths, `write blob "${key}"`, error)
    }
  }

  /** Removes the directories a delete or move left empty, up to (not including) the root. */
  const removeEmptyParents = async (directory: string) => {
    for (let current = directory; current.startsWith(paths.root + sep); current = dirname(current)) {
      const removed = await rmdir(current).then(
        () => true,
        () => false,
      )
      if (!removed) return
    }
  }

  const isFile = async (file: string) => {
    try {
      return (await stat(file)).isFile()
    } catch (error) {
      if (isErrorCode(error, 'ENOENT', 'ENOTDIR', 'ELOOP')) return false
      throw storeError(paths, `look at ${file}`, error)
    }
  }

  const walk = async (directory: string, prefix: string, rootReal: string, keys: string[]): Promise<void> => {
    const entries = await readdir(directory, { withFileTypes: true }).catch((error: unknown) => {
      ignoreMissing(error)
      return []
    })
    for (const entry of entries) {
      const key = prefix + entry.name
      if ((prefix === '' && entry.name === paths.fluxDir) || keyProblem(key)) continue
      const path = join(directory, entry.name)
      if (entry.isDirectory()) await walk(path, `${key}/`, rootReal, keys)
      else if (entry.isFile()) keys.push(key)
      else if (entry.isSymbolicLink()) {
        // a link to a file under the root is a blob; links out of it, or to directories, are not
        const real = await realpathIfAny(path)
        if (real && isInside(real, rootReal) && (await isFile(real))) keys.push(key)
      }
    }
  }

  /**
   * The keys under `prefix` in ascending order (as JavaScript compares strings), a directory
   * at a time: its entries sorted with a directory's name followed by "/", since every key
   * under it starts so; directories whose keys all come before `after` are not read.
   */
  async function* sortedKeys(
    directory: string,
    prefix: string,
    rootReal: string,
    after?: string,
  ): AsyncGenerator<string> {
    const entries = await readdir(directory, { withFileTypes: true }).catch((error: unknown) => {
      ignoreMissing(error)
      return []
    })
    const named = entries.map((entry) => ({ entry, sortName: entry.isDirectory() ? `${entry.name}/` : entry.name }))
    named.sort((a, b) => (a.sortName < b.sortName ? -1 : a.sortName > b.sortName ? 1 : 0))
    for (const { entry, sortName } of named) {
      const key = prefix + entry.name
      if ((prefix === '' && entry.name === paths.fluxDir) || keyProblem(key)) continue
      const path = join(directory, entry.name)
      if (entry.isDirectory()) {
        const under = prefix + sortName
        if (after !== undefined && under < after && !after.startsWith(under)) continue
        yield* sortedKeys(path, under, rootReal, after)
      } else if (after !== undefined && key <= after) continue
      else if (entry.isFile()) yield key
      else if (entry.isSymbolicLink()) {
        const real = await realpathIfAny(path)
        if (real && isInside(real, rootReal) && (await isFile(real))) yield key
      }
    }
  }

  /** What `list` gives, page by page (see `PagedBlobStore.listPages` in @flux/core): one directory and one page held at a time. */
  async function* listPages(prefix = '', options: { after?: string; pageSize?: number } = {}) {
    const pageSize = Math.max(options.pageSize ?? 1_000, 1)
    const rootReal = await realpathIfAny(paths.root)
    if (rootReal === undefined) return
    const start = prefix.slice(0, prefix.lastIndexOf('/') + 1)
    let directory: string | undefined = paths.root
    if (start !== '') {
      directory = await fileOf(start.slice(0, -1)).catch((error: unknown) => {
        if (FluxError.is(error) && error.code === 'KEY_INVALID') return undefined
        throw error
      })
      if (directory === undefined) return
    }
    let page: string[] = []
    try {
      for await (const key of sortedKeys(directory, start, rootReal, options.after)) {
        if (!key.startsWith(prefix)) continue
        page.push(key)
        if (page.length >= pageSize) {
          yield page
          page = []
        }
      }
    } catch (error) {
      throw storeError(paths, `list blobs under "${prefix}"`, error)
    }
    if (page.length > 0) yield page
  }

  // listPages is not part of BlobStore's type: the data toolkit's blobs() looks for it
  const client: BlobStore & { listPages: typeof listPages } = {
    async put(key: string, body: BlobBody) {
      const file = await fileOf(key).catch((error: unknown) => {
        destroyUnread(body)
        throw error
      })
      await writeAtomically(key, file, body)
    },

    async get(key) {
      const file = await fileOf(key)
      try {
        return await readFile(file)
      } catch (error) {
        if (isErrorCode(error, 'ENOENT', 'ENOTDIR', 'EISDIR')) throw notFound(key)
        throw storeError(paths, `read blob "${key}"`, error)
      }
    },

    async list(prefix = '') {
      const rootReal = await realpathIfAny(paths.root)
      if (rootReal === undefined) return []
      // walk only the directory the prefix names, when it names one
      const start = prefix.slice(0, prefix.lastIndexOf('/') + 1)
      let directory: string | undefined = paths.root
      if (start !== '') {
        // no valid key starts with an invalid one, nor with a link out of the root
        directory = await fileOf(start.slice(0, -1)).catch((error: unknown) => {
          if (FluxError.is(error) && error.code === 'KEY_INVALID') return undefined
          throw error
        })
        if (directory === undefined) return []
      }
      const keys: string[] = []
      try {
        await walk(directory, start, rootReal, keys)
      } catch (error) {
        throw storeError(paths, `list blobs under "${prefix}"`, error)
      }
      return keys.filter((key) => key.startsWith(prefix)).sort()
    },

    async delete(key) {
      const file = await fileOf(key)
      try {
        await unlink(file)
      } catch (error) {
        if (isErrorCode(error, 'ENOENT', 'ENOTDIR', 'EISDIR')) return
        if (isErrorCode(error, 'EPERM') && (await stat(file).catch(() => undefined))?.isDirectory()) return
        throw storeError(paths, `delete blob "${key}"`, error)
      }
      await removeEmptyParents(dirname(file))
    },

    async move(from, to) {
      const source = await fileOf(from)
      const target = await fileOf(to)
      if (!(await isFile(source))) throw notFound(from)
      if (source === target) return
      try {
        await mkdir(dirname(target), { recursive: true })
        await rename(source, target)
      } catch (error) {
        if (isErrorCode(error, 'ENOENT') && !(await isFile(source))) throw notFound(from)
        if (isErrorCode(error, 'EXDEV')) {
          // another filesystem is mounted under the root: copy, then remove the source
          await writeAtomically(to, target, (await open(source)).createReadStream())
          await unlink(source).catch(ignoreMissing)
        } else if (isErrorCode(error, 'EISDIR', 'ENOTDIR', 'EEXIST', 'ENOTEMPTY')) {
          throw clash(to, error)
        } else {
          throw storeError(paths, `move blob "${from}" to "${to}"`, error)
        }
      }
      await removeEmptyParents(dirname(source))
    },

    async exists(key) {
      return isFile(await fileOf(key))
    },

    listPages,
  }
  return client
}

function realpathSyncIfAny(path: string): string | undefined {
  try {
    // the same look-up as fs/promises' realpath (the C library's), not realpathSync's own walk
    return realpathSync.native(path)
  } catch (error) {
    if (isErrorCode(error, 'ENOENT', 'ENOTDIR', 'ELOOP')) return undefined
    throw error
  }
}

function lstatSyncIfAny(path: string): ReturnType<typeof lstatSync> | undefined {
  try {
    return lstatSync(path)
  } catch {
    return undefined
  }
}

async function realpathIfAny(path: string): Promise<string | undefined> {
  try {
    return await realpath(path)
  } catch (error) {
    if (isErrorCode(error, 'ENOENT', 'ENOTDIR', 'ELOOP')) return undefined
    throw error
  }
}

/** Releases a stream body that will not be read, as `pipeline` does on failure. */
function destroyUnread(body: BlobBody): void {
  if (typeof body === 'object' && 'destroy' in body && typeof body.destroy === 'function') body.destroy()
}
