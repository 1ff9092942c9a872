import { createHash } from 'node:crypto'
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import {
  describeChanges,
  FluxError,
  type LeaseHolder,
  type Ledger,
  type LedgerEntry,
  leaseTakenOver,
  ledgerEntryProblem,
} from '@flux/core'
import { backoff, isConflict, isNotFound, type S3Target, storeError } from './s3-options.ts'

/**
 * Format versions of `ledger.json`: 1 holds every entry; 2 (written once there are more than
 * {@link SEGMENT_SIZE} + {@link TAIL_KEEP} entries) holds the recent ones and refers to sealed
 * segments for the rest. A newer one is refused rather than misread.
 */
const WHOLE = 1
const SEGMENTED = 2
/** How long a write keeps retrying when every compare-and-swap loses. */
const WRITE_DEADLINE_MS = 30_000
/** Entries per sealed segment. */
const SEGMENT_SIZE = 64
/** The most recent entries, the ones a run changes, stay in `ledger.json` itself. */
const TAIL_KEEP = 32
/** Segments fetched at once when the ledger is read. */
const SEGMENT_READS = 8

/**
 * The lease that may write the ledger: the token of the latest acquisition (or of a break,
 * which names no holder), and its epoch. Kept in `ledger.json` itself, so that checking it and
 * writing the entries are one compare-and-swap.
 */
export interface Fence {
  token: string
  epoch: number
  holder?: LeaseHolder
}

/** What the lease needs of the ledger. */
export interface S3Fencing {
  /**
   * Moves the ledger's fence to a new lease (or to nobody, for a break), which voids every
   * earlier token. Its epoch is `epoch`, or more when the fence already had one as great.
   */
  move(fence: Fence): Promise<Fence>
  /**
   * The token this instance's writes are checked against: set once its lease is acquired,
   * cleared by its own release. `undefined`: the instance holds no lease and writes unconditionally.
   */
  held: string | undefined
}

/**
 * A sealed run of older entries, in an object of its own that is never changed: its key (under
 * the flux folder) is named by the SHA-256 of its bytes, which a reader checks.
 */
interface Segment {
  key: string
  count: number
  sha256: string
  entries: LedgerEntry[]
}

/** The ledger as last seen: its ETag (`undefined`: the object does not exist), entries and fence. */
interface Snapshot {
  etag: string | undefined
  entries: LedgerEntry[]
  fence: Fence | undefined
  /** The segments holding the first entries; the rest are in `ledger.json`. */
  segments: Segment[]
}

/**
 * The ledger: one object, `<prefix>.flux/ledger.json` = `{ version, fence, entries }`, entries
 * in first-recorded order. A write replaces the whole object with compare-and-swap on its ETag
 * (`If-Match`, or `If-None-Match: *` to create it), so two writers can never lose each other's
 * updates: the loser gets 412, reads again and retries. Every acquisition of the lease moves the
 * fence first; a holder then writes only while the object it replaces carries its own token, so
 * a take-over (a new ETag) makes the old holder's next write fail, and its re-read shows why.
 *
 * A long ledger would make every write upload all of it (a thousand migrations: a quarter of a
 * megabyte per step). So the older entries are sealed, 64 at a time, into segment objects
 * (`<prefix>.flux/ledger/<sha256>.json`, written once, before the compare-and-swap that refers
 * to them) and `ledger.json` keeps the fence, the list of segments and the recent entries: a
 * write uploads a few kilobytes however long the history. Segments are immutable and named by
 * their content, so a writer that loses the compare-and-swap leaves at most an unreferenced
 * segment behind, never a wrong one; a change to an old entry (the `down` of an early migration)
 * seals the entries from there on anew, and the segments it replaces stay, unreferenced.
 */
export function s3Ledger(target: S3Target): { ledger: Ledger; fencing: S3Fencing } {
  // What this instance last read or wrote: a write first tries it without reading, and the
  // condition on the ETag catches it when another instance wrote since.
  let seen: Snapshot | undefined
  // Writes of this instance so far: a read that was under way during one must not replace what it wrote in
  // `seen` (an older fence there would refuse our own writes).
  let written = 0
  let queue: Promise<unknown> = Promise.resolve()

  // segments read or written by this instance, by key: they never change
  const segmentCache = new Map<string, Segment>()

  const load = async (): Promise<Snapshot> => {
    const before = written
    let snapshot: Snapshot | undefined
    // a segment missing: the ledger was rewritten while we read it; read it again
    for (let attempt = 1; snapshot === undefined; attempt++) {
      let stored: Stored
      let etag: string | undefined
      try {
        const response = await target.sdk().send(new GetObjectCommand({ Bucket: target.bucket, Key: target.ledgerKey }))
        etag = response.ETag
        stored = parse(target, await response.Body!.transformToString('utf8'))
      } catch (error) {
        if (error instanceof FluxError) throw error
        if (!isNotFound(error)) throw storeError(target, `read the ledger ${target.ledgerKey}`, error)
        stored = { entries: [], fence: undefined, segments: [] }
      }
      const segments = await readSegments(stored.segments, attempt < 3)
      if (segments === undefined) continue
      snapshot = {
        etag,
        entries:
          segments.length === 0
            ? stored.entries
            : [...segments.flatMap((segment) => segment.entries), ...stored.entries],
        fence: stored.fence,
        segments,
      }
    }
    if (written === before) seen = snapshot
    return snapshot
  }

  /** The segments `ledger.json` refers to, from the cache or the bucket; `undefined`: one is gone and `retry`. */
  const readSegments = async (refs: SegmentRef[], retry: boolean): Promise<Segment[] | undefined> => {
    const segments: Segment[] = new Array(refs.length)
    let gone = false
    let next = 0
    const worker = async () => {
      while (next < refs.length && !gone) {
        const index = next++
        const ref = refs[index]!
        const known = segmentCache.get(ref.key)
        if (known) {
          segments[index] = known
          continue
        }
        const Key = `${target.fluxFolder}${ref.key}`
        let text: string
        try {
          const response = await target.sdk().send(new GetObjectCommand({ Bucket: target.bucket, Key }))
          text = await response.Body!.transformToString('utf8')
        } catch (error) {
          if (isNotFound(error) && retry) {
            gone = true
            return
          }
          if (isNotFound(error)) throw malformed(target, `its segment ${Key} does not exist`)
          throw storeError(target, `read the ledger segment ${Key}`, error)
        }
        const segment = parseSegment(target, Key, ref, text)
        segmentCache.set(ref.key, segment)
        segments[index] = segment
      }
    }
    await Promise.all(Array.from({ length: Math.min(SEGMENT_READS, refs.length) }, worker))
    return gone ? undefined : segments
  }

  /** Writes the segments that `layout` sealed and that are not in the bucket yet. */
  const writeSegments = async (segments: Segment[], bodies: Map<string, string>): Promise<void> => {
    const fresh = segments.filter((segment) => bodies.has(segment.key))
    for (let index = 0; index < fresh.length; index += SEGMENT_READS) {
      await Promise.all(
        fresh.slice(index, index + SEGMENT_READS).map(async (segment) => {
          const Key = `${target.fluxFolder}${segment.key}`
          try {
            // unconditional: named by its content, a segment written twice is written the same
            await target.sdk().send(
              new PutObjectCommand({
                Bucket: target.bucket,
                Key,
                Body: bodies.get(segment.key),
                ContentType: 'application/json',
              }),
            )
          } catch (error) {
            throw storeError(target, `write the ledger segment ${Key}`, error)
          }
          segmentCache.set(segment.key, segment)
        }),
      )
    }
  }

  /**
   * Replaces the object with `change(what it holds)`, by compare-and-swap until it lands; `change`
   * gives `undefined` when there is nothing to change, and throws to refuse.
   */
  const commit = async (
    action: string,
    change: (base: Snapshot) => Pick<Snapshot, 'entries' | 'fence'> | undefined,
  ): Promise<void> => {
    const deadline = Date.now() + WRITE_DEADLINE_MS
    for (let attempt = 0; ; attempt++) {
      const cached = seen
      let base = cached ?? (await load())
      let next = change(base)
      // nothing to change by what we saw last: make sure on a fresh read before skipping the write
      if (next === undefined && cached) {
        base = await load()
        next = change(base)
      }
      if (next === undefined) return
      const { segments, tail, bodies } = layout(next.entries, base.segments)
      try {
        await writeSegments(segments, bodies)
        const response = await target.sdk().send(
          new PutObjectCommand({
            Bucket: target.bucket,
            Key: target.ledgerKey,
            Body: serialize(tail, next.fence, segments),
            ContentType: 'application/json',
            ...(base.etag === undefined ? { IfNoneMatch: '*' } : { IfMatch: base.etag }),
          }),
        )
        written += 1
        seen = { etag: response.ETag, ...next, segments }
        return
      } catch (error) {
        seen = undefined
        if (error instanceof FluxError) throw error
        // 404: If-Match on an object that someone deleted; read again like for 412
        if (!isConflict(error) && !isNotFound(error)) throw storeError(target, `${action} ${target.ledgerKey}`, error)
        if (Date.now() >= deadline) {
          throw new FluxError(
            'STORE_ERROR',
            `could not ${action} ${target.ledgerKey} in ${target.description}: it changed under every attempt for ${WRITE_DEADLINE_MS / 1000}s`,
            { hint: 'another process keeps writing it: is a runner writing without the lease?', cause: error },
          )
        }
        // the first retry re-reads at once (our view was stale); later ones back off
        if (attempt > 0) await backoff(attempt)
      }
    }
  }

  const serialized = <T>(task: () => Promise<T>): Promise<T> => {
    const next = queue.then(task)
    queue = next.catch(() => {})
    return next
  }

  const fencing: S3Fencing = {
    held: undefined,
    move: (fence) =>
      serialized(async () => {
        let moved!: Fence
        await commit('move the fence of the ledger', (base) => {
          moved = { ...fence, epoch: Math.max(fence.epoch, (base.fence?.epoch ?? 0) + 1) }
          if (moved.holder) moved.holder = { ...moved.holder, epoch: moved.epoch }
          return { entries: base.entries, fence: moved }
        })
        return moved
      }),
  }

  const update = (what: string, operation: (entries: LedgerEntry[]) => LedgerEntry[]) => {
    // taken when the write is asked for: a release while it waits in the queue does not lift its fence
    const held = fencing.held
    return serialized(async () => {
      await commit('write the ledger', (base) => {
        if (held !== undefined && base.fence?.token !== held)
          throw leaseTakenOver(target.description, what, base.fence?.holder)
        const entries = operation(base.entries)
        return entries === base.entries ? undefined : { entries, fence: base.fence }
      })
    })
  }

  const ledger: Ledger = {
    async read() {
      return structuredClone((await load()).entries)
    },
    record: (entry) => update(`record ${entry.id} in the ledger`, (entries) => recorded(entries, entry)),
    remove: (id) => update(`remove ${id} from the ledger`, (entries) => removed(entries, id)),
    // one compare-and-swap for them all: a step's applied record with the next step's running one
    write: (changes) =>
      update(`${describeChanges(changes)} in the ledger`, (entries) =>
        changes.reduce(
          (current, change) =>
            'record' in change ? recorded(current, change.record) : removed(current, change.remove),
          entries,
        ),
      ),
  }
  return { ledger, fencing }
}

/** The entries with `entry` recorded, or the same array when it is already there as it is. */
function recorded(entries: LedgerEntry[], entry: LedgerEntry): LedgerEntry[] {
  const copy = JSON.parse(JSON.stringify(entry)) as LedgerEntry
  const index = entries.findIndex((existing) => existing.id === copy.id)
  if (index === -1) return [...entries, copy]
  if (lineOf(entries[index]!) === lineOf(copy)) return entries
  return entries.with(index, copy)
}

/** The entries without `id`, or the same array when it is absent. */
function removed(entries: LedgerEntry[], id: string): LedgerEntry[] {
  const kept = entries.filter((entry) => entry.id !== id)
  return kept.length === entries.length ? entries : kept
}

/** Entries are never changed in place (a change is a new object): their JSON is worked out once. */
const lines = new WeakMap<LedgerEntry, string>()

function lineOf(entry: LedgerEntry): string {
  let line = lines.get(entry)
  if (line === undefined) {
    line = JSON.stringify(entry)
    lines.set(entry, line)
  }
  return line
}

/** One entry per line: small diffs for anyone who downloads it to look. */
function entriesJson(entries: LedgerEntry[]): string {
  return `"entries":[${entries.length ? `\n${entries.map(lineOf).join(',\n')}\n` : ''}]`
}

/**
 * Where `entries` go: the segments of `previous` that still hold the same first entries are
 * kept, then runs of {@link SEGMENT_SIZE} are sealed while more than {@link TAIL_KEEP} would be
 * left; the rest is the tail. `bodies`: the text of the segments sealed now, by key.
 */
function layout(
  entries: LedgerEntry[],
  previous: Segment[],
): { segments: Segment[]; tail: LedgerEntry[]; bodies: Map<string, string> } {
  const segments: Segment[] = []
  let position = 0
  for (const segment of previous) {
    const same =
      position + segment.count <= entries.length &&
      segment.entries.every((entry, index) => {
        const now = entries[position + index]!
        return now === entry || lineOf(now) === lineOf(entry)
      })
    if (!same) break
    segments.push(segment)
    position += segment.count
  }
  const bodies = new Map<string, string>()
  while (entries.length - position >= SEGMENT_SIZE + TAIL_KEEP) {
    const sealed = entries.slice(position, position + SEGMENT_SIZE)
    const body = `{"version":${SEGMENTED},${entriesJson(sealed)}}\n`
    const sha256 = createHash('sha256').update(body).digest('hex')
    const key = `ledger/${sha256}.json`
    segments.push({ key, count: sealed.length, sha256, entries: sealed })
    bodies.set(key, body)
    position += SEGMENT_SIZE
  }
  return { segments, tail: entries.slice(position), bodies }
}

/** `ledger.json`: version 1 (every entry) while there is no segment, so that older @flux/s3 read it. */
function serialize(tail: LedgerEntry[], fence: Fence | undefined, segments: Segment[]): string {
  const fenced = fence === undefined ? '' : `"fence":${JSON.stringify(fence)},\n`
  if (segments.length === 0) return `{"version":${WHOLE},${fenced}${entriesJson(tail)}}\n`
  const refs = segments.map(({ key, count, sha256 }) => JSON.stringify({ key, count, sha256 }))
  return `{"version":${SEGMENTED},${fenced}"segments":[\n${refs.join(',\n')}\n],\n${entriesJson(tail)}}\n`
}

/** A segment as `ledger.json` names it. */
type SegmentRef = Omit<Segment, 'entries'>

/** What `ledger.json` holds: its own entries (all of them, or the tail), the fence, the segments. */
interface Stored {
  entries: LedgerEntry[]
  fence: Fence | undefined
  segments: SegmentRef[]
}

function parse(target: S3Target, text: string): Stored {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (error) {
    throw malformed(target, 'it is not valid JSON', error)
  }
  const { version, entries, fence, segments } = (typeof data === 'object' && data !== null ? data : {}) as Record<
    string,
    unknown
  >
  if (typeof version === 'number' && version > SEGMENTED) {
    throw new FluxError(
      'STORE_ERROR',
      `the ledger ${target.ledgerKey} in ${target.description} has format version ${version}, newer than this @flux/s3`,
      { hint: 'upgrade @flux/s3 to the version that wrote it' },
    )
  }
  if (version !== WHOLE && version !== SEGMENTED)
    throw malformed(target, `its "version" is not ${WHOLE} or ${SEGMENTED}`)
  checkEntries(entries, (reason) => malformed(target, reason))
  const refs: SegmentRef[] = []
  if (version === SEGMENTED) {
    if (!Array.isArray(segments)) throw malformed(target, 'it has no "segments" array')
    segments.forEach((segment, index) => {
      const { key, count, sha256 } = (typeof segment === 'object' && segment !== null ? segment : {}) as Record<
        string,
        unknown
      >
      if (typeof key !== 'string' || !/^ledger\/[0-9a-f]{64}\.json$/.test(key) || typeof sha256 !== 'string')
        throw malformed(target, `segment ${index + 1} has no key or sha256`)
      if (typeof count !== 'number' || !Number.isInteger(count) || count < 1)
        throw malformed(target, `segment ${index + 1} has no count`)
      refs.push({ key, count, sha256 })
    })
  }
  // written by a version without fencing: no fence, which no lease holder's token matches
  if (fence === undefined) return { entries: entries as LedgerEntry[], fence: undefined, segments: refs }
  const { token, epoch } = (typeof fence === 'object' && fence !== null ? fence : {}) as Record<string, unknown>
  if (typeof token !== 'string' || typeof epoch !== 'number')
    throw malformed(target, 'its "fence" has no token or epoch')
  return { entries: entries as LedgerEntry[], fence: fence as Fence, segments: refs }
}

function checkEntries(entries: unknown, refuse: (reason: string) => Error): asserts entries is LedgerEntry[] {
  if (!Array.isArray(entries)) throw refuse('it has no "entries" array')
  entries.forEach((entry, index) => {
    const problem = ledgerEntryProblem(entry)
    if (problem) throw refuse(`entry ${index + 1} ${problem}`)
  })
}

/** A segment's text, checked against what `ledger.json` says of it. */
function parseSegment(target: S3Target, key: string, ref: SegmentRef, text: string): Segment {
  const refuse = (reason: string, cause?: unknown) => malformed(target, `its segment ${key} ${reason}`, cause)
  if (createHash('sha256').update(text).digest('hex') !== ref.sha256)
    throw refuse('does not have the SHA-256 that the ledger gives it')
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (error) {
    throw refuse('is not valid JSON', error)
  }
  const { entries } = (typeof data === 'object' && data !== null ? data : {}) as Record<string, unknown>
  checkEntries(entries, (reason) => refuse(reason.replace(/^it /, '')))
  if (entries.length !== ref.count) throw refuse(`has ${entries.length} entries, not ${ref.count}`)
  return { ...ref, entries }
}

function malformed(target: S3Target, reason: string, cause?: unknown): FluxError {
  return new FluxError(
    'STORE_ERROR',
    `the ledger ${target.ledgerKey} in ${target.description} is malformed: ${reason}`,
    {
      hint: 'flux writes this object itself and it must not be edited by hand: restore an earlier version (bucket versioning) or a backup',
      cause,
    },
  )
}
