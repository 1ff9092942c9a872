import { mkdir, open, readFile } from 'node:fs/promises'
import { FluxError, type Ledger, type LedgerEntry, writeFileAtomic } from '@flux/core'
import { type FsPaths, isErrorCode, storeError } from './fs-options.ts'

/** Version of the `ledger.json` format. */
const LEDGER_VERSION = 1

/** The ledger as one JSON file, `<root>/.flux/ledger.json`, replaced atomically on every write. */
export function fsLedger(paths: FsPaths): Ledger {
  // Writes of one adapter instance queue up; other processes only write under the lease.
  let queue: Promise<unknown> = Promise.resolve()
  const update = (change: (entries: LedgerEntry[]) => LedgerEntry[] | undefined) => {
    const next = queue.then(async () => {
      const entries = change(await readLedger(paths))
      if (entries) await writeLedger(paths, entries)
    })
    queue = next.catch(() => {})
    return next
  }

  return {
    read: () => readLedger(paths),
    record: (entry) =>
      update((entries) => {
        const index = entries.findIndex((existing) => existing.id === entry.id)
        if (index === -1) return [...entries, entry]
        return entries.map((existing, at) => (at === index ? entry : existing))
      }),
    remove: (id) =>
      update((entries) =>
        entries.some((entry) => entry.id === id) ? entries.filter((entry) => entry.id !== id) : undefined,
      ),
  }
}

async function readLedger(paths: FsPaths): Promise<LedgerEntry[]> {
  let text: string
  try {
    text = await readFile(paths.ledger, 'utf8')
  } catch (error) {
    if (isErrorCode(error, 'ENOENT')) return []
    throw storeError(paths, `read the ledger ${paths.ledger}`, error)
  }
  return parseLedger(paths, text)
}

function parseLedger(paths: FsPaths, text: string): LedgerEntry[] {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (error) {
    throw malformed(paths, 'it is not valid JSON', error)
  }
  if (typeof data !== 'object' || data === null) throw malformed(paths, 'it is not a JSON object')
  const { version, entries } = data as { version?: unknown; entries?: unknown }
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
  if (version !== LEDGER_VERSION) throw malformed(paths, `its "version" is not ${LEDGER_VERSION}`)
  if (!Array.isArray(entries)) throw malformed(paths, 'its "entries" is not an array')
  entries.forEach((entry, index) => {
    const problem = entryProblem(entry)
    if (problem) throw malformed(paths, `entry ${index + 1} ${problem}`)
  })
  return entries as LedgerEntry[]
}

function entryProblem(entry: unknown): string | undefined {
  if (typeof entry !== 'object' || entry === null) return 'is not an object'
  const record = entry as Record<string, unknown>
  for (const field of ['id', 'checksum', 'appliedAt', 'runId', 'fluxVersion']) {
    if (typeof record[field] !== 'string') return `has no string "${field}"`
  }
  if (record.status !== 'applied' && record.status !== 'running') return 'has a "status" other than applied or running'
  if (typeof record.durationMs !== 'number') return 'has no number "durationMs"'
  return undefined
}

function malformed(paths: FsPaths, reason: string, cause?: unknown): FluxError {
  return new FluxError('STORE_ERROR', `the ledger ${paths.ledger} of ${paths.description} is malformed: ${reason}`, {
    file: paths.ledger,
    hint: 'flux writes this file itself and it must not be edited by hand: restore it from a backup or from version control',
    cause,
  })
}

async function writeLedger(paths: FsPaths, entries: LedgerEntry[]): Promise<void> {
  const text = `${JSON.stringify({ version: LEDGER_VERSION, entries }, null, 2)}\n`
  try {
    await mkdir(paths.dir, { recursive: true })
    await writeFileAtomic(paths.ledger, text)
    // the rename itself is durable only once the directory is
    await syncDirectory(paths.dir)
  } catch (error) {
    throw storeError(paths, `write the ledger ${paths.ledger}`, error)
  }
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
