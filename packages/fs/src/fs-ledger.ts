import type { FileHandle } from 'node:fs/promises'
import { describeChanges, FluxError, type LeaseHolder, type Ledger, leaseTakenOver } from '@flux/core'
import { DURABLE_WRITES, openCurrent, readRange } from './fs-generations.ts'
import {
  type Fence,
  fenceLine,
  type JournalState,
  LEDGER_VERSION,
  type Operation,
  operationLine,
  replay,
  sealLine,
  TORN_SUFFIX,
  type Verdict,
} from './fs-journal.ts'
import { type FsPaths, storeError } from './fs-options.ts'

/** The lease token an adapter instance writes under: set by its acquire(), cleared by its own release(). */
export interface HeldLease {
  token: string | undefined
}

/** The ledger, and what the lease needs of the journal. */
export interface FsJournal {
  readonly ledger: Ledger
  /**
   * Appends `fence` after the current fence, so that from there on only its token's lines count.
   * `entitled()` is asked after each read of the journal and before each append (lease.json is
   * still the caller's); resolves undefined when it says no, else the fence with its epoch.
   */
  appendFence(fence: Omit<Fence, 'epoch'>, entitled: () => Promise<boolean>): Promise<Fence | undefined>
  /** The current fence, read from the journal; undefined before the first. */
  currentFence(): Promise<Fence | undefined>
}

/** Bounds the retries of a write that keeps meeting other writers' seals: far more than ever happens. */
const MAX_ATTEMPTS = 100

/** A write that would leave more lines than this after the header moves the journal to a compact new generation. */
function compactionThreshold(live: number): number {
  // twice the live entries: applying a migration writes two lines (running, then applied)
  return 2 * live + 64
}

/**
 * The ledger as an append-only journal in `<root>/.flux/` (see fs-journal.ts for its lines and the
 * rules that say which count, fs-generations.ts for its files). Each write appends one line,
 * durable when the write returns (O_DSYNC, or an fsync after it), carrying the lease token while
 * the instance holds a lease, then checks with fstat that nothing landed in between, or replays
 * what did to learn whether its line counted. A write that would leave more than
 * 2 × (live entries) + 64 lines, or that finds a version 2 journal, seals the generation and goes
 * on in the next one, which holds one record per live entry.
 */
export function fsJournal(paths: FsPaths, held: HeldLease): FsJournal {
  // Writes of one adapter instance queue up; other processes' appends are ordered by the file.
  let queue: Promise<unknown> = Promise.resolve()
  /** The journal as this instance last read or wrote it; undefined while a write uses it, or when unknown. */
  let seen: JournalState | undefined

  const exclusive = <T>(action: string, run: (known: JournalState | undefined) => Promise<T>): Promise<T> => {
    const next = queue.then(async () => {
      const known = seen
      seen = undefined // until this write succeeds
      try {
        return await run(known)
      } catch (error) {
        throw storeError(paths, action, error)
      }
    })
    queue = next.catch(() => {})
    return next
  }

  /** Opens the generation to append to, runs `step` on it, closes it; `step` resolves `retry` to look again. */
  const attempt = async <T>(
    known: JournalState | undefined,
    create: boolean,
    step: (opened: Opened) => Promise<T | typeof retry | typeof reread>,
  ): Promise<T | undefined> => {
    let fresh = false
    for (let attempts = 0; attempts < MAX_ATTEMPTS; attempts++) {
      const opened = await openCurrent(paths, {
        write: true,
        create,
        known: fresh ? undefined : known,
        generation: known?.generation,
      })
      if (!opened) return undefined // no journal, and this write would not create it
      const handle = opened.handle!
      try {
        known = opened.state
        const result = await step({ handle, state: opened.state, size: opened.size, fromStart: opened.fromStart })
        if (result === reread) fresh = true
        else if (result !== retry) {
          seen = opened.state
          return result as T
        }
      } finally {
        await handle.close()
      }
    }
    throw new FluxError('STORE_ERROR', `the ledger of ${paths.description} kept changing under this write`, {
      hint: 'another process is writing it right now; run the command again',
    })
  }

  /** Appends the operations' lines in one durable write: all of them count, or none. */
  const write = (operations: readonly Operation[]): Promise<void> => {
    const what =
      operations.length === 1 && 'remove' in operations[0]!
        ? `remove ${operations[0].remove} from the ledger`
        : operations.length === 1 && 'record' in operations[0]!
          ? `record ${operations[0].record.id} in the ledger`
          : `${describeChanges(operations)} in the ledger`
    const creates = operations.some((operation) => 'record' in operation)
    return exclusive(`write the ledger of ${paths.description}`, (known) =>
      attempt<void>(known, creates, async ({ handle, state, size, fromStart }) => {
        const token = held.token
        if (token !== undefined && state.fence?.token !== token) {
          throw leaseTakenOver(paths.description, what, holderOf(state.fence))
        }
        // removing an absent id writes nothing: make sure it is absent from the file, not just from memory
        const ids = new Set(state.entries.keys())
        const lines: string[] = []
        for (const operation of operations) {
          if ('record' in operation) ids.add(operation.record.id)
          else if (!ids.delete(operation.remove)) {
            if (!fromStart) return reread
            continue
          }
          lines.push(operationLine(operation, token))
        }
        if (lines.length === 0) return undefined
        if (state.version < LEDGER_VERSION || state.lines + lines.length - 1 > compactionThreshold(ids.size)) {
          await seal(paths, handle, state, size)
          return retry
        }
        const verdict = await append(paths, handle, state, size, lines, () => {
          for (const operation of operations) {
            if ('record' in operation) state.entries.set(operation.record.id, operation.record)
            else state.entries.delete(operation.remove)
          }
        })
        if (verdict.counted) return undefined
        if ('fence' in verdict) {
          throw leaseTakenOver(
            paths.description,
            `${what} (its line landed after the take-over, and does not count)`,
            holderOf(verdict.fence),
          )
        }
        return retry // the generation was sealed before the line landed: write it again in the next one
      }),
    )
  }

  return {
    ledger: {
      async read() {
        try {
          const opened = await openCurrent(paths, { write: false, generation: seen?.generation })
          await opened?.handle?.close()
          if (!opened) return []
          seen = opened.state
          return [...opened.state.entries.values()]
        } catch (error) {
          throw storeError(paths, `read the ledger of ${paths.description}`, error)
        }
      },
      record: (entry) => write([{ record: entry }]),
      remove: (id) => write([{ remove: id }]),
      write: (changes) => write(changes),
    },

    appendFence(fence, entitled) {
      return exclusive(`fence the lease in the ledger of ${paths.description}`, (known) =>
        attempt<Fence | undefined>(known, true, async ({ handle, state, size }) => {
          if (state.version < LEDGER_VERSION || state.lines > compactionThreshold(state.entries.size)) {
            await seal(paths, handle, state, size)
            return retry
          }
          // asked after reading the journal: a runner that took lease.json over from us since then
          // appends its own fence after what we read, and ours, built on what we read, will not count
          if (!(await entitled())) return undefined
          const next: Fence = { ...fence, epoch: (state.fence?.epoch ?? 0) + 1 }
          const verdict = await append(paths, handle, state, size, [fenceLine(next, state.fence?.token)], () => {
            state.fence = next
          })
          return verdict.counted ? next : retry
        }),
      )
    },

    async currentFence() {
      try {
        const opened = await openCurrent(paths, { write: false, generation: seen?.generation })
        await opened?.handle?.close()
        return opened?.state.fence
      } catch (error) {
        throw storeError(paths, `read the ledger of ${paths.description}`, error)
      }
    },
  }
}

const retry = Symbol('retry')
const reread = Symbol('reread')

interface Opened {
  handle: FileHandle
  state: JournalState
  /** The file's size when opened: more than `state.complete` when it ends with a torn line. */
  size: number
  fromStart: boolean
}

/** The holder a fence names in LEASE_LOST: undefined for a lease broken by `flux unlock`. */
function holderOf(fence: Fence | undefined): LeaseHolder | undefined {
  return fence?.holder && { ...fence.holder, epoch: fence.epoch }
}

/**
 * Appends lines in one durable write, then tells whether they counted (all of them
 * or none: one write on a file opened with O_APPEND lands whole, and no other line can come
 * between them). `applyOwn` applies them to `state` when nothing else landed since `state` was
 * read: they then count as the caller judged they would.
 */
async function append(
  paths: FsPaths,
  handle: FileHandle,
  state: JournalState,
  size: number,
  lines: readonly string[],
  applyOwn: () => void,
): Promise<Verdict> {
  // a line a crash cut short gets its end and its mark from the next append (never truncated:
  // another process may be appending at the same moment)
  const torn = size > state.complete
  const bytes = Buffer.from(`${torn ? `${TORN_SUFFIX}\n` : ''}${lines.join('\n')}\n`)
  await appendBytes(handle, bytes)
  const after = (await handle.stat()).size
  if (!torn && after === size + bytes.length) {
    applyOwn()
    state.complete = after
    state.lines += lines.length
    return { counted: true }
  }
  // others appended around them: replay what landed, in the order it landed
  const verdict = replay(paths, state, await readRange(handle, state.complete, after), lines[0])
  if (!verdict) throw new Error(`its line was not found in ${paths.ledger} after it was written`)
  return verdict
}

/** Seals the generation (anyone may: sealing moves the ledger on unchanged), and reads on to the seal. */
async function seal(paths: FsPaths, handle: FileHandle, state: JournalState, size: number): Promise<void> {
  const torn = size > state.complete
  await appendBytes(handle, Buffer.from(`${torn ? `${TORN_SUFFIX}\n` : ''}${sealLine(state)}\n`))
  replay(paths, state, await readRange(handle, state.complete, (await handle.stat()).size))
  if (!state.sealed) throw new Error(`its seal was not found in ${paths.ledger} after it was written`)
}

async function appendBytes(handle: FileHandle, bytes: Buffer): Promise<void> {
  // one write() on a file opened with O_APPEND: the line lands whole at the end, or (crash) torn at the end;
  // durable when it returns (O_DSYNC), or once synced
  const { bytesWritten } = await handle.write(bytes)
  if (bytesWritten !== bytes.length) throw new Error(`only ${bytesWritten} of ${bytes.length} bytes were written`)
  if (!DURABLE_WRITES) await handle.sync()
}
