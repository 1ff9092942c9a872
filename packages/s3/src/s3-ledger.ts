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

/** Format version of `ledger.json`; a newer one is refused rather than misread. */
const LEDGER_VERSION = 1
/** How long a write keeps retrying when every compare-and-swap loses. */
const WRITE_DEADLINE_MS = 30_000

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

/** The ledger as last seen: its ETag (`undefined`: the object does not exist), entries and fence. */
interface Snapshot {
  etag: string | undefined
  entries: LedgerEntry[]
  fence: Fence | undefined
}

/**
 * The ledger: one object, `<prefix>.flux/ledger.json` = `{ version, fence, entries }`, entries
 * in first-recorded order. A write replaces the whole object with compare-and-swap on its ETag
 * (`If-Match`, or `If-None-Match: *` to create it), so two writers can never lose each other's
 * updates: the loser gets 412, reads again and retries. Every acquisition of the lease moves the
 * fence first; a holder then writes only while the object it replaces carries its own token, so
 * a take-over (a new ETag) makes the old holder's next write fail, and its re-read shows why.
 */
export function s3Ledger(target: S3Target): { ledger: Ledger; fencing: S3Fencing } {
  // What this instance last read or wrote: a write first tries it without reading, and the
  // condition on the ETag catches it when another instance wrote since.
  let seen: Snapshot | undefined
  // Writes of this instance so far: a read that was under way during one must not replace what it wrote in
  // `seen` (an older fence there would refuse our own writes).
  let written = 0
  let queue: Promise<unknown> = Promise.resolve()

  const load = async (): Promise<Snapshot> => {
    const before = written
    let snapshot: Snapshot
    try {
      const response = await target.sdk().send(new GetObjectCommand({ Bucket: target.bucket, Key: target.ledgerKey }))
      snapshot = { etag: response.ETag, ...parse(target, await response.Body!.transformToString('utf8')) }
    } catch (error) {
      if (!isNotFound(error)) throw storeError(target, `read the ledger ${target.ledgerKey}`, error)
      snapshot = { etag: undefined, entries: [], fence: undefined }
    }
    if (written === before) seen = snapshot
    return snapshot
  }

  /**
   * Replaces the object with `change(what it holds)`, by compare-and-swap until it lands; `change`
   * gives `undefined` when there is nothing to change, and throws to refuse.
   */
  const commit = async (
    action: string,
    change: (base: Snapshot) => Omit<Snapshot, 'etag'> | undefined,
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
      try {
        const response = await target.sdk().send(
          new PutObjectCommand({
            Bucket: target.bucket,
            Key: target.ledgerKey,
            Body: serialize(next),
            ContentType: 'application/json',
            ...(base.etag === undefined ? { IfNoneMatch: '*' } : { IfMatch: base.etag }),
          }),
        )
        written += 1
        seen = { etag: response.ETag, ...next }
        return
      } catch (error) {
        seen = undefined
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
  if (JSON.stringify(entries[index]) === JSON.stringify(copy)) return entries
  return entries.with(index, copy)
}

/** The entries without `id`, or the same array when it is absent. */
function removed(entries: LedgerEntry[], id: string): LedgerEntry[] {
  const kept = entries.filter((entry) => entry.id !== id)
  return kept.length === entries.length ? entries : kept
}

/** One entry per line: small diffs for anyone who downloads it to look. */
function serialize({ entries, fence }: Omit<Snapshot, 'etag'>): string {
  const lines = entries.map((entry) => JSON.stringify(entry))
  const fenced = fence === undefined ? '' : `"fence":${JSON.stringify(fence)},\n`
  return `{"version":${LEDGER_VERSION},${fenced}"entries":[${lines.length ? `\n${lines.join(',\n')}\n` : ''}]}\n`
}

function parse(target: S3Target, text: string): Omit<Snapshot, 'etag'> {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (error) {
    throw malformed(target, 'it is not valid JSON', error)
  }
  const { version, entries, fence } = (typeof data === 'object' && data !== null ? data : {}) as Record<string, unknown>
  if (typeof version === 'number' && version > LEDGER_VERSION) {
    throw new FluxError(
      'STORE_ERROR',
      `the ledger ${target.ledgerKey} in ${target.description} has format version ${version}, newer than this @flux/s3`,
      { hint: 'upgrade @flux/s3 to the version that wrote it' },
    )
  }
  if (version !== LEDGER_VERSION) throw malformed(target, `its "version" is not ${LEDGER_VERSION}`)
  if (!Array.isArray(entries)) throw malformed(target, 'it has no "entries" array')
  entries.forEach((entry, index) => {
    const problem = ledgerEntryProblem(entry)
    if (problem) throw malformed(target, `entry ${index + 1} ${problem}`)
  })
  // written by a version without fencing: no fence, which no lease holder's token matches
  if (fence === undefined) return { entries: entries as LedgerEntry[], fence: undefined }
  const { token, epoch } = (typeof fence === 'object' && fence !== null ? fence : {}) as Record<string, unknown>
  if (typeof token !== 'string' || typeof epoch !== 'number')
    throw malformed(target, 'its "fence" has no token or epoch')
  return { entries: entries as LedgerEntry[], fence: fence as Fence }
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
