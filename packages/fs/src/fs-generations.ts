import { randomUUID } from 'node:crypto'
import { constants } from 'node:fs'
import { type FileHandle, link, mkdir, open, readdir, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { FluxError, type LedgerEntry, writeFileAtomic } from '@flux/core'
import {
  emptyState,
  type Fence,
  generationFile,
  generationOf,
  generationText,
  type JournalState,
  malformed,
  replay,
  SUPERSEDED_TEXT,
} from './fs-journal.ts'
import { type FsPaths, ignoreMissing, isErrorCode } from './fs-options.ts'

// The journal's files. A journal only ever grows, so it is compacted by moving to a new file, a
// generation: `ledger.jsonl`, then `ledger.1.jsonl`, `ledger.2.jsonl`… A writer seals the current
// one with a line (after which nothing in it counts), and the next one is published with link(),
// which fails when the file exists: whoever creates it first wins, and nobody ever replaces a
// file that others may be appending to (a rename or a truncate could drop a newer holder's lines,
// if its writer froze between reading and replacing). Anyone who finds a generation sealed and
// its successor missing creates the successor from what the sealed one holds. Older generations
// are then dead: removed, except `ledger.jsonl`, which says so to older versions of @flux/fs.

/** Bounds the moves from generation to generation while opening: far more than ever happens. */
const MAX_HOPS = 100

export interface OpenOptions {
  /** Opens to append, creating the next generation where needed; else only reads. */
  write: boolean
  /** With `write`: creates the journal when there is none (else resolves undefined). */
  create?: boolean
  /** What this instance knows of the journal: reading goes on from there while the file is the same. */
  known?: JournalState
  /** The generation to look at first when nothing is known. */
  generation?: number | undefined
}

export interface OpenedGeneration {
  /** Open on the current generation; undefined when reading a sealed one whose successor nobody created yet. */
  handle: FileHandle | undefined
  state: JournalState
  /** The file's size when read: more than `state.complete` when it ends with a torn line. */
  size: number
  /** `state` was read from the file's beginning, not carried on from `known`. */
  fromStart: boolean
}

/**
 * The generation a writer opens is opened with O_DSYNC where the platform has one: a write()
 * returns once its bytes are durable, as a write() then an fdatasync() would, in one call
 * through the thread pool instead of two. Elsewhere (Windows) appends are followed by a sync().
 */
export const DURABLE_WRITES = constants.O_DSYNC !== undefined

/** Finds the current generation and replays it; undefined when reading a store never written. */
export async function openCurrent(paths: FsPaths, options: OpenOptions): Promise<OpenedGeneration | undefined> {
  const { known } = options
  let generation = known ? known.generation + (known.sealed ? 1 : 0) : (options.generation ?? 0)
  let previous = known?.sealed ? known : undefined
  let reuse = known?.sealed ? undefined : known
  const flags = options.write ? constants.O_RDWR | constants.O_APPEND | (constants.O_DSYNC ?? 0) : constants.O_RDONLY
  for (let hops = 0; hops < MAX_HOPS; hops++) {
    const handle = await open(generationFile(paths, generation), flags).catch((error: unknown) =>
      isErrorCode(error, 'ENOENT', 'ENOTDIR') ? undefined : Promise.reject(error),
    )
    if (!handle) {
      const latest = await latestGeneration(paths)
      if (latest !== undefined && latest > generation) {
        ;[generation, previous, reuse] = [latest, undefined, undefined]
        continue
      }
      if (previous?.generation === generation - 1) {
        // sealed, and nobody created its successor yet: what it holds is the ledger
        if (!options.write) return { handle: undefined, state: previous, size: previous.complete, fromStart: true }
        await createGeneration(paths, generation, previous.fence, previous.entries.values())
        continue
      }
      if (latest === undefined && !(options.write && options.create)) return undefined
      if (latest === undefined) await createGeneration(paths, 0, undefined, [])
      ;[generation, previous, reuse] = [latest ?? 0, undefined, undefined]
      continue
    }
    let keep = false
    try {
      const { ino, birthtimeMs, size } = await handle.stat()
      const same = reuse && reuse.ino === ino && reuse.birthtimeMs === birthtimeMs && size >= reuse.complete
      const state = same ? reuse! : emptyState(generation, ino, birthtimeMs)
      reuse = undefined
      if (size > state.complete) replay(paths, state, await readRange(handle, state.complete, size))
      if (state.lines === 0) {
        // version 2 created the file, then wrote to it: a crash in between leaves it without a
        // complete first line, and nothing in it counts (the next generation starts empty)
        if (generation !== 0) throw malformed(paths, state, 1, 'it has no complete header line')
        state.sealed = true
      }
      if (state.sealed) {
        ;[generation, previous] = [generation + 1, state]
        continue
      }
      // A file this instance has not been reading is current only if no later generation exists: a
      // creator that froze before its link() can publish a stale generation late, under a number
      // whose file was removed, and so always below the latest. (The file this instance was
      // reading, still the same, stops being current only with a seal it will read.)
      const latest = same ? generation : await latestGeneration(paths)
      if (latest !== undefined && latest > generation) {
        ;[generation, previous] = [latest, undefined]
        continue
      }
      if (state.superseded) {
        throw new FluxError('STORE_ERROR', `the ledger of ${paths.description} is missing its newer files`, {
          file: paths.ledger,
          hint: `${paths.ledger} says a newer ledger.<n>.jsonl beside it holds the ledger, and there is none: restore it from a backup`,
        })
      }
      keep = true
      return { handle, state, size, fromStart: !same }
    } finally {
      if (!keep) await handle.close()
    }
  }
  throw new FluxError('STORE_ERROR', `the ledger of ${paths.description} kept moving on while being opened`, {
    hint: 'other processes are writing it right now; run the command again',
  })
}

/** Publishes a generation whole, unless someone else did first; then retires the older ones. */
async function createGeneration(
  paths: FsPaths,
  generation: number,
  fence: Fence | undefined,
  entries: Iterable<LedgerEntry>,
): Promise<void> {
  await mkdir(paths.dir, { recursive: true })
  const temp = join(paths.dir, `ledger.${generation}.${randomUUID()}.tmp`)
  const handle = await open(temp, 'wx')
  try {
    await handle.writeFile(generationText(generation, fence, entries))
    await handle.sync()
  } finally {
    await handle.close()
  }
  try {
    // the lock-free primitive: link() publishes a complete file, or fails with EEXIST, atomically
    await link(temp, generationFile(paths, generation)).catch((error: unknown) =>
      isErrorCode(error, 'EEXIST') ? undefined : Promise.reject(error),
    )
  } finally {
    await unlink(temp).catch(ignoreMissing)
  }
  // the new name is durable only once the directory is
  await syncDirectory(paths.dir)
  if (generation > 0) await retire(paths, generation)
}

/** Removes the generations before `generation` (dead: sealed, their content in it), and empties `ledger.jsonl`. */
async function retire(paths: FsPaths, generation: number): Promise<void> {
  for (const name of await readdir(paths.dir)) {
    const older = generationOf(name)
    if (older === undefined || older >= generation) continue
    if (older > 0) {
      await unlink(join(paths.dir, name)).catch(ignoreMissing)
      continue
    }
    // replacing a dead file is safe: whatever lands in it after its seal never counted
    const size = await stat(paths.ledger).then(({ size }) => size, ignoreMissing)
    if (size !== undefined && size !== SUPERSEDED_TEXT.length) await writeFileAtomic(paths.ledger, SUPERSEDED_TEXT)
  }
}

async function latestGeneration(paths: FsPaths): Promise<number | undefined> {
  let names: string[]
  try {
    names = await readdir(paths.dir)
  } catch (error) {
    if (isErrorCode(error, 'ENOENT', 'ENOTDIR')) return undefined
    throw error
  }
  let latest: number | undefined
  for (const name of names) {
    const generation = generationOf(name)
    if (generation !== undefined && (latest === undefined || generation > latest)) latest = generation
  }
  return latest
}

/** Bytes `from` up to `to`, or up to the end if it comes first. */
export async function readRange(handle: FileHandle, from: number, to: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(Math.max(0, to - from))
  let length = 0
  while (length < buffer.length) {
    const { bytesRead } = await handle.read(buffer, length, buffer.length - length, from + length)
    if (bytesRead === 0) break
    length += bytesRead
  }
  return buffer.subarray(0, length)
}

export async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r')
  try {
    await handle.sync()
  } catch (error) {
    // some platforms (Windows) cannot fsync a directory; the link or rename is still atomic there
    if (!isErrorCode(error, 'EPERM', 'EISDIR', 'EINVAL', 'EBADF')) throw error
  } finally {
    await handle.close()
  }
}
