import { FluxError, type LeaseHolder, type LedgerEntry, ledgerEntryProblem } from '@flux/core'
import type { FsPaths } from './fs-options.ts'

/** Version of the journal format, in each file's header line. 3 added fencing and generations. */
export const LEDGER_VERSION = 3
/** The oldest version still read; a write moves such a journal to the current version. */
const OLDEST_VERSION = 2

/**
 * Appended by the next writer to a line a crash cut short, which ends it and marks it void. No line
 * flux writes holds a raw tab (JSON escapes it), so no whole line can end with this.
 */
export const TORN_SUFFIX = '\t(torn)'

const NEWLINE = 0x0a

/** A lease's fence: who held the store's lease from this line on, until the next fence. */
export interface Fence {
  /** The lease's token: lines written under the lease carry it. */
  token: string
  /** 1 for the first fence of the store, then one more at every acquisition, take-over or break. */
  epoch: number
  /** Who took the lease; absent for a lease broken by `flux unlock`. */
  holder?: LeaseHolder
  broken?: true
}

/** What a record or remove line says, before the lease token is added. */
export type Operation = { record: LedgerEntry } | { remove: string }

/** One generation of the journal, as replayed so far; `complete` bytes of it were read. */
export interface JournalState {
  generation: number
  /** The file's inode and birth time: it is the same file while they are. */
  ino: number
  birthtimeMs: number
  version: number
  /** Bytes up to and including the last newline read. */
  complete: number
  /** Complete lines read, the header included. */
  lines: number
  /** The live entries, in the contract's order. */
  entries: Map<string, LedgerEntry>
  /** The current fence: its token is the only one whose lines count. */
  fence: Fence | undefined
  /** A seal was read: the journal goes on in the next generation, and later lines here are void. */
  sealed: boolean
  /** A generation 0 emptied once a later generation held its content. */
  superseded: boolean
}

/** How the last copy of a line this writer appended was judged where it landed. */
export type Verdict =
  | { counted: true }
  | { counted: false; sealed: true }
  | { counted: false; fence: Fence | undefined }

export function emptyState(generation: number, ino: number, birthtimeMs: number): JournalState {
  return {
    generation,
    ino,
    birthtimeMs,
    version: LEDGER_VERSION,
    complete: 0,
    lines: 0,
    entries: new Map(),
    fence: undefined,
    sealed: false,
    superseded: false,
  }
}

/** The file of a generation: `ledger.jsonl` for the first, `ledger.<n>.jsonl` after it. */
export function generationFile(paths: FsPaths, generation: number): string {
  return generation === 0 ? paths.ledger : paths.ledger.replace(/\.jsonl$/, `.${generation}.jsonl`)
}

/** The generation a file name in `.flux/` holds, if it is one. */
export function generationOf(name: string): number | undefined {
  const match = /^ledger(?:\.([1-9]\d{0,15}))?\.jsonl$/.exec(name)
  return match ? Number(match[1] ?? 0) : undefined
}

/** A new generation's whole text: its header, carrying the fence, then one record per live entry. */
export function generationText(generation: number, fence: Fence | undefined, entries: Iterable<LedgerEntry>): string {
  const header = {
    flux: 'ledger',
    version: LEDGER_VERSION,
    ...(generation ? { generation } : {}),
    ...(fence ? { fence } : {}),
  }
  let text = `${JSON.stringify(header)}\n`
  for (const entry of entries) text += `${JSON.stringify({ record: entry })}\n`
  return text
}

/** What generation 0 becomes once a later one holds its content: an older @flux/fs reading it asks to be upgraded. */
export const SUPERSEDED_TEXT = `${JSON.stringify({ flux: 'ledger', version: LEDGER_VERSION, superseded: true })}\n`

export const operationLine = (operation: Operation, lease: string | undefined): string =>
  JSON.stringify(lease === undefined ? operation : { ...operation, lease })

export const fenceLine = (fence: Fence, prev: string | undefined): string =>
  JSON.stringify({ fence: { token: fence.token, epoch: fence.epoch, prev: prev ?? null, ...fenceParties(fence) } })

export const sealLine = (state: JournalState): string => JSON.stringify({ seal: state.generation + 1 })

const fenceParties = (fence: Fence) => (fence.broken ? { broken: true } : fence.holder ? { holder: fence.holder } : {})

/**
 * Replays `chunk`, the bytes of the generation from `state.complete` on, into `state`; a tail with
 * no newline yet is left for later. The rules:
 * - a fence line counts when its `prev` is the current fence's token (or null before any fence):
 *   of two runners that both saw the same fence, only the first to append supersedes it;
 * - a record or remove line counts when it carries no `lease` (written by an instance holding no
 *   lease) or the current fence's token;
 * - after a seal, nothing in this generation counts: the next generation starts from what did;
 * - a line ending with {@link TORN_SUFFIX} is the remnant of a torn append: it never counts.
 * Returns how the last line equal to `mine` was judged, when there is one.
 */
export function replay(paths: FsPaths, state: JournalState, chunk: Buffer, mine?: string): Verdict | undefined {
  const end = chunk.lastIndexOf(NEWLINE) + 1
  const lines = chunk.toString('utf8', 0, end).split('\n')
  lines.pop() // the empty string after the last newline
  state.complete += end
  let verdict: Verdict | undefined
  for (const line of lines) {
    state.lines += 1
    if (state.lines === 1) {
      readHeader(paths, state, parseLine(paths, state, line))
      continue
    }
    if (state.sealed || line.endsWith(TORN_SUFFIX)) {
      if (line === mine) verdict = { counted: false, sealed: true }
      continue
    }
    const data = parseLine(paths, state, line)
    const current = state.fence
    const counts = apply(paths, state, data)
    if (line === mine) verdict = counts ? { counted: true } : { counted: false, fence: current }
  }
  return verdict
}

/** Applies one line after the header; whether it counted. */
function apply(paths: FsPaths, state: JournalState, data: unknown): boolean {
  const line = (typeof data === 'object' && data !== null ? data : {}) as Record<string, unknown>
  const number = state.lines
  if ('fence' in line) {
    const { prev, ...fence } = (line.fence ?? {}) as Fence & { prev?: unknown }
    if (!isFence(fence) || (prev !== null && typeof prev !== 'string')) {
      throw malformed(paths, state, number, 'its fence is not {"token", "epoch", "prev"}')
    }
    if (prev !== (state.fence?.token ?? null)) return false
    state.fence = fence
    return true
  }
  if ('seal' in line) {
    if (line.seal !== state.generation + 1)
      throw malformed(paths, state, number, `its seal is not ${state.generation + 1}`)
    state.sealed = true
    return true
  }
  if (line.lease !== undefined && typeof line.lease !== 'string')
    throw malformed(paths, state, number, 'its lease is not a token')
  const counts = line.lease === undefined || line.lease === state.fence?.token
  if ('record' in line) {
    const problem = ledgerEntryProblem(line.record)
    if (problem) throw malformed(paths, state, number, `its record ${problem}`)
    const entry = line.record as LedgerEntry
    if (counts) state.entries.set(entry.id, entry)
    return counts
  }
  if (typeof line.remove === 'string') {
    if (counts) state.entries.delete(line.remove)
    return counts
  }
  throw malformed(paths, state, number, 'it is neither {"record": …}, {"remove": "<id>"}, {"fence": …} nor {"seal": n}')
}

function isFence(fence: Partial<Fence>): fence is Fence {
  return (
    typeof fence.token === 'string' &&
    Number.isSafeInteger(fence.epoch) &&
    (fence.holder === undefined || (typeof fence.holder?.host === 'string' && typeof fence.holder.pid === 'number'))
  )
}

function parseLine(paths: FsPaths, state: JournalState, line: string): unknown {
  try {
    return JSON.parse(line)
  } catch (error) {
    throw malformed(paths, state, state.lines, 'it is not valid JSON', error)
  }
}

function readHeader(paths: FsPaths, state: JournalState, data: unknown): void {
  const header = (typeof data === 'object' && data !== null ? data : {}) as Record<string, unknown>
  const { version } = header
  if (header.flux !== 'ledger') throw malformed(paths, state, 1, 'it is not a header {"flux":"ledger",…}')
  if (typeof version === 'number' && version > LEDGER_VERSION) {
    throw new FluxError(
      'STORE_ERROR',
      `the ledger ${generationFile(paths, state.generation)} has format version ${version}, newer than this @flux/fs`,
      { file: generationFile(paths, state.generation), hint: 'upgrade @flux/fs to the version that wrote it' },
    )
  }
  if (typeof version !== 'number' || version < OLDEST_VERSION || !Number.isInteger(version)) {
    throw malformed(paths, state, 1, `its "version" is not between ${OLDEST_VERSION} and ${LEDGER_VERSION}`)
  }
  if ((header.generation ?? 0) !== state.generation) {
    throw malformed(paths, state, 1, `its "generation" is not ${state.generation}, as its name says`)
  }
  const fence = (header.fence ?? undefined) as Partial<Fence> | undefined
  if (fence !== undefined && !isFence(fence)) throw malformed(paths, state, 1, 'its fence is not {"token", "epoch"}')
  state.version = version
  state.fence = fence
  state.superseded = header.superseded === true
}

export function malformed(
  paths: FsPaths,
  state: JournalState,
  line: number,
  reason: string,
  cause?: unknown,
): FluxError {
  const file = generationFile(paths, state.generation)
  return new FluxError(
    'STORE_ERROR',
    `the ledger ${file} of ${paths.description} is malformed: line ${line}: ${reason}`,
    {
      file,
      details: { line },
      hint: 'flux writes this file itself and it must not be edited by hand: restore it from a backup or from version control',
      cause,
    },
  )
}
