import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { FluxError, type Ledger, type LedgerEntry, ledgerEntryProblem } from '@flux/core'
import { backoff, isConflict, isNotFound, type S3Target, storeError } from './s3-options.ts'

/** Format version of `ledger.json`; a newer one is refused rather than misread. */
const LEDGER_VERSION = 1
/** How long a write keeps retrying when every compare-and-swap loses. */
const WRITE_DEADLINE_MS = 30_000

type Operation = { record: LedgerEntry } | { remove: string }

/** The ledger as last seen: its ETag (`undefined`: the object does not exist) and its entries. */
interface Snapshot {
  etag: string | undefined
  entries: LedgerEntry[]
}

/**
 * The ledger: one object, `<prefix>.flux/ledger.json` = `{ version, entries }`, entries in
 * first-recorded order. A write replaces the whole object with compare-and-swap on its ETag
 * (`If-Match`, or `If-None-Match: *` to create it), so two writers can never lose each
 * other's updates: the loser gets 412, reads again and retries.
 */
export function s3Ledger(target: S3Target): Ledger {
  // What this instance last read or wrote: a write first tries it without reading, and the
  // condition on the ETag catches it when another instance wrote since.
  let seen: Snapshot | undefined
  let queue: Promise<unknown> = Promise.resolve()

  const load = async (): Promise<Snapshot> => {
    let text: string
    let etag: string | undefined
    try {
      const response = await target.sdk().send(new GetObjectCommand({ Bucket: target.bucket, Key: target.ledgerKey }))
      text = await response.Body!.transformToString('utf8')
      etag = response.ETag
    } catch (error) {
      if (!isNotFound(error)) throw storeError(target, `read the ledger ${target.ledgerKey}`, error)
      seen = { etag: undefined, entries: [] }
      return seen
    }
    seen = { etag, entries: parse(target, text) }
    return seen
  }

  const write = async (operation: Operation) => {
    const deadline = Date.now() + WRITE_DEADLINE_MS
    for (let attempt = 0; ; attempt++) {
      const cached = seen
      let base = cached ?? (await load())
      let entries = applyTo(base.entries, operation)
      // nothing to change by what we saw last: make sure on a fresh read before skipping the write
      if (entries === base.entries && cached) {
        base = await load()
        entries = applyTo(base.entries, operation)
      }
      if (entries === base.entries) return
      try {
        const response = await target.sdk().send(
          new PutObjectCommand({
            Bucket: target.bucket,
            Key: target.ledgerKey,
            Body: serialize(entries),
            ContentType: 'application/json',
            ...(base.etag === undefined ? { IfNoneMatch: '*' } : { IfMatch: base.etag }),
          }),
        )
        seen = { etag: response.ETag, entries }
        return
      } catch (error) {
        seen = undefined
        // 404: If-Match on an object that someone deleted; read again like for 412
        if (!isConflict(error) && !isNotFound(error)) {
          throw storeError(target, `write the ledger ${target.ledgerKey}`, error)
        }
        if (Date.now() >= deadline) {
          throw new FluxError(
            'STORE_ERROR',
            `could not write the ledger ${target.ledgerKey} in ${target.description}: it changed under every attempt for ${WRITE_DEADLINE_MS / 1000}s`,
            { hint: 'another process keeps writing it: is a runner writing without the lease?', cause: error },
          )
        }
        // the first retry re-reads at once (our view was stale); later ones back off
        if (attempt > 0) await backoff(attempt)
      }
    }
  }

  const update = (operation: Operation) => {
    const next = queue.then(() => write(operation))
    queue = next.catch(() => {})
    return next
  }

  return {
    async read() {
      return structuredClone((await load()).entries)
    },
    record: (entry) => update({ record: entry }),
    remove: (id) => update({ remove: id }),
  }
}

/** The entries after the operation, or the same array when it changes nothing. */
function applyTo(entries: LedgerEntry[], operation: Operation): LedgerEntry[] {
  if ('remove' in operation) {
    const kept = entries.filter((entry) => entry.id !== operation.remove)
    return kept.length === entries.length ? entries : kept
  }
  const entry = JSON.parse(JSON.stringify(operation.record)) as LedgerEntry
  const index = entries.findIndex((existing) => existing.id === entry.id)
  if (index === -1) return [...entries, entry]
  if (JSON.stringify(entries[index]) === JSON.stringify(entry)) return entries
  return entries.with(index, entry)
}

/** One entry per line: small diffs for anyone who downloads it to look. */
function serialize(entries: LedgerEntry[]): string {
  const lines = entries.map((entry) => JSON.stringify(entry))
  return `{"version":${LEDGER_VERSION},"entries":[${lines.length ? `\n${lines.join(',\n')}\n` : ''}]}\n`
}

function parse(target: S3Target, text: string): LedgerEntry[] {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (error) {
    throw malformed(target, 'it is not valid JSON', error)
  }
  const { version, entries } = (typeof data === 'object' && data !== null ? data : {}) as Record<string, unknown>
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
  return entries as LedgerEntry[]
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
