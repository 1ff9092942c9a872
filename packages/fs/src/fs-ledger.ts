import { constants } from 'node:fs'
import { type FileHandle, mkdir, open, stat } from 'node:fs/promises'
import { FluxError, type Ledger, type LedgerEntry, ledgerEntryProblem, writeFileAtomic } from '@flux/core'
import { type FsPaths, isErrorCode, storeError } from './fs-options.ts'

/** Version of the `ledger.jsonl` format, in its header line. */
const LEDGER_VERSION = 2

/** First line of every journal. */
const HEADER = `${JSON.stringify({ flux: 'ledger', version: LEDGER_VERSION })}\n`

const NEWLINE = 0x0a

/** One line of the journal after its header. */
type Operation = { record: LedgerEntry } | { remove: string }

/** What an instance knows of the journal after reading or writing it; trusted while its inode and size are unchanged. */
interface Journal {
  ino: number
  /** Bytes up to and including the last newline: the file, less a torn tail if it had one. */
  complete: number
  /** Operation lines after the header. */
  lines: number
  /** Ids of the live entries. */
  ids: Set<string>
}

/** A journal as read: its entries in the contract's order, and what to remember of it. */
interface Replayed {
  journal: Journal
  entries: Map<string, LedgerEntry>
}

/** A write that would leave more operation lines than this compacts the journal instead. */
function compactionThreshold(live: number): number {
  // twice the live entries: applying a migration writes two lines (running, then applied)
  return 2 * live + 64
}

/**
 * The ledger as an append-only journal, `<root>/.flux/ledger.jsonl`: a header line
 * `{"flux":"ledger","version":2}`, then one line per write, `{"record":{…entry}}` or
 * `{"remove":"<id>"}`. Reading replays it with the contract's order (a replaced entry keeps its
 * place, an entry removed and recorded again goes to the end). Each write appends one line
 * and fsyncs it, without reading the journal while this instance knows what it holds; a write
 * that would leave more than 2 × (live entries) + 64 lines rewrites it with one record per live
 * entry instead, so the file stays proportional to the ledger.
 */
export function fsLedger(paths: FsPaths): Ledger {
  // Writes of one adapter instance queue up; other processes only write under the lease.
  let queue: Promise<unknown> = Promise.resolve()
  /** The journal as this instance last read or wrote it; undefined when unknown. */
  let seen: Journal | undefined

  const write = async (operation: Operation): Promise<void> => {
    const handle = await openJournal(paths, 'record' in operation)
    if (!handle) return // nothing to remove from a journal that does not exist
    try {
      const last = seen
      seen = undefined // until this write succeeds
      const { ino, size } = await handle.stat()
      let replayed: Replayed | undefined
      const load = async () => {
        replayed = replay(paths, ino, await readAll(handle, size))
        return replayed
      }
      // another process's appends change the size (its compaction, the inode): replay the journal then
      let journal =
        last && last.ino === ino && last.complete === size && (await endsWithNewline(handle, size))
          ? last
          : (await load()).journal
      if ('remove' in operation && !journal.ids.has(operation.remove)) {
        // removing an absent id writes nothing: make sure it is absent from the file, not just from memory
        if (!replayed) journal = (await load()).journal
        if (!journal.ids.has(operation.remove)) {
          seen = journal
          return
        }
      }
      if ('record' in operation) journal.ids.add(operation.record.id)
      else journal.ids.delete(operation.remove)
      const lines = journal.lines + 1

      if (lines > compactionThreshold(journal.ids.size)) {
        const { entries } = replayed ?? (await load())
        applyTo(entries, operation)
        seen = await compact(paths, entries)
        return
      }

      if (size > journal.complete) {
        // a crash cut the last append short: cut its torn tail off, so this line starts a line of its
        // own (only the lease holder writes, so the tail is nobody's append in progress)
        await handle.truncate(journal.complete)
      }
      const starting = journal.complete === 0
      const bytes = Buffer.from(`${starting ? HEADER : ''}${JSON.stringify(operation)}\n`)
      // one write() on a file opened with O_APPEND: the line lands whole at the end, or (crash) torn at the end
      const { bytesWritten } = await handle.write(bytes)
      if (bytesWritten !== bytes.length) throw new Error(`only ${bytesWritten} of ${bytes.length} bytes were written`)
      await handle.sync()
      // a new file's directory entry is durable only once the directory is
      if (starting) await syncDirectory(paths.dir)
      seen = { ino, complete: journal.complete + bytes.length, lines, ids: journal.ids }
    } catch (error) {
      throw storeError(paths, `write the ledger ${paths.ledger}`, error)
    } finally {
      await handle.close()
    }
  }

  const update = (operation: Operation) => {
    const next = queue.then(() => write(operation))
    queue = next.catch(() => {})
    return next
  }

  return {
    async read() {
      let handle: FileHandle
      try {
        handle = await open(paths.ledger, 'r')
      } catch (error) {
        if (isErrorCode(error, 'ENOENT')) return []
        throw storeError(paths, `read the ledger ${paths.ledger}`, error)
      }
      try {
        const { ino, size } = await handle.stat()
        const { journal, entries } = replay(paths, ino, await readAll(handle, size))
        seen = journal
        return [...entries.values()]
      } catch (error) {
        throw storeError(paths, `read the ledger ${paths.ledger}`, error)
      } finally {
        await handle.close()
      }
    },
    record: (entry) => update({ record: entry }),
    remove: (id) => update({ remove: id }),
  }
}

/** Opens the journal to read and append; creates it (and `.flux/`) only for a record. */
async function openJournal(paths: FsPaths, create: boolean): Promise<FileHandle | undefined> {
  const flags = constants.O_RDWR | constants.O_APPEND | (create ? constants.O_CREAT : 0)
  try {
    try {
      return await open(paths.ledger, flags)
    } catch (error) {
      if (!isErrorCode(error, 'ENOENT')) throw error
      if (!create) return undefined
    }
    await mkdir(paths.dir, { recursive: true })
    return await open(paths.ledger, flags)
  } catch (error) {
    throw storeError(paths, `open the ledger ${paths.ledger}`, error)
  }
}

/** Whether the file is empty or ends with a newline: no torn tail since this instance last looked. */
async function endsWithNewline(handle: FileHandle, size: number): Promise<boolean> {
  if (size === 0) return true
  const last = Buffer.alloc(1)
  const { bytesRead } = await handle.read(last, 0, 1, size - 1)
  return bytesRead === 1 && last[0] === NEWLINE
}

/** The whole file, read from its start whatever the handle's position; `size` is a hint. */
async function readAll(handle: FileHandle, size: number): Promise<Buffer> {
  let buffer = Buffer.allocUnsafe(size + 4096)
  let length = 0
  for (;;) {
    if (length === buffer.length) buffer = Buffer.concat([buffer], buffer.length * 2)
    const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length)
    if (bytesRead === 0) return buffer.subarray(0, length)
    length += bytesRead
  }
}

/** Replays a journal's lines: a record replaces an entry in its place or adds it at the end; a remove deletes it. */
function replay(paths: FsPaths, ino: number, content: Buffer): Replayed {
  // A crash during an append can leave its line cut short, without its newline (every line is
  // written whole with its newline, in one write). That torn tail was never acknowledged, so it
  // is not part of the ledger; the next append cuts it off. Any other bad line is corruption.
  const complete = content.lastIndexOf(NEWLINE) + 1
  const lines = content.toString('utf8', 0, complete).split('\n')
  lines.pop() // the empty string after the last newline
  const entries = new Map<string, LedgerEntry>()
  lines.forEach((line, index) => {
    const number = index + 1
    const data = parseLine(paths, line, number)
    if (index === 0) {
      checkHeader(paths, data)
      return
    }
    const operation = data as Record<string, unknown>
    if (typeof operation === 'object' && operation !== null && 'record' in operation) {
      const problem = ledgerEntryProblem(operation.record)
      if (problem) throw malformed(paths, number, `its record ${problem}`)
      const entry = operation.record as LedgerEntry
      entries.set(entry.id, entry)
    } else if (typeof operation === 'object' && operation !== null && typeof operation.remove === 'string') {
      entries.delete(operation.remove)
    } else {
      throw malformed(paths, number, 'it is neither {"record": …} nor {"remove": "<id>"}')
    }
  })
  return { journal: { ino, complete, lines: Math.max(0, lines.length - 1), ids: new Set(entries.keys()) }, entries }
}

function parseLine(paths: FsPaths, line: string, number: number): unknown {
  try {
    return JSON.parse(line)
  } catch (error) {
    throw malformed(paths, number, 'it is not valid JSON', error)
  }
}

function checkHeader(paths: FsPaths, data: unknown): void {
  const { flux, version } = (typeof data === 'object' && data !== null ? data : {}) as Record<string, unknown>
  if (flux !== 'ledger') throw malformed(paths, 1, `it is not the header ${HEADER.trim()}`)
  if (typeof version === 'number' && version > LEDGER_VERSION) {
    throw new FluxError(
      'STORE_ERROR',
      `the ledger ${paths.ledger} has format version ${version}, newer than this @flux/fs`,
      {
        file: paths.ledger,
        hint: 'upgrade @flux/fs to the version that wrote it',
      },
    )
  }
  if (version !== LEDGER_VERSION) throw malformed(paths, 1, `its "version" is not ${LEDGER_VERSION}`)
}

function malformed(paths: FsPaths, line: number, reason: string, cause?: unknown): FluxError {
  return new FluxError(
    'STORE_ERROR',
    `the ledger ${paths.ledger} of ${paths.description} is malformed: line ${line}: ${reason}`,
    {
      file: paths.ledger,
      details: { line },
      hint: 'flux writes this file itself and it must not be edited by hand: restore it from a backup or from version control',
      cause,
    },
  )
}

function applyTo(entries: Map<string, LedgerEntry>, operation: Operation): void {
  if ('record' in operation) entries.set(operation.record.id, operation.record)
  else entries.delete(operation.remove)
}

/**
 * Rewrites the journal as its header and one record per live entry, in order, atomically.
 * This assumes a single writer: an append by another process between our read and the rename
 * would be lost. The runner writes the ledger only while it holds the store's lease, so there
 * is none (the same assumption lets an append cut a torn tail off).
 */
async function compact(paths: FsPaths, entries: Map<string, LedgerEntry>): Promise<Journal> {
  let text = HEADER
  for (const entry of entries.values()) text += `${JSON.stringify({ record: entry })}\n`
  await writeFileAtomic(paths.ledger, text)
  // the rename itself is durable only once the directory is
  await syncDirectory(paths.dir)
  const { ino } = await stat(paths.ledger)
  return { ino, complete: Buffer.byteLength(text), lines: entries.size, ids: new Set(entries.keys()) }
}

async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r')
  try {
    await handle.sync()
  } catch (error) {
    // some platforms (Windows) cannot fsync a directory; the rename is still atomic there
    if (!isErrorCode(error, 'EPERM', 'EISDIR', 'EINVAL', 'EBADF')) throw error
  } finally {
    await handle.close()
  }
}
