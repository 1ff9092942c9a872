import type { LedgerChange } from './adapter.ts'
import { FluxError } from './errors.ts'

/**
 * What is wrong with a blob key by the rules of {@link BlobStore} (a relative path of names
 * separated by single `/`, without `.` or `..` names, backslashes or NUL), or with it naming
 * something under `reservedDir` (the store's own ledger and lease); `undefined` when nothing
 * is. Adapters add their own rules (fs: names of files being written; s3: the key's length).
 */
export function blobKeyProblem(key: string, reservedDir: string): string | undefined {
  if (typeof key !== 'string' || key === '') return 'it is empty'
  if (key.startsWith('/')) return 'it is absolute'
  if (/[\\\0]/.test(key)) return 'it contains a backslash or a NUL character'
  const segments = key.split('/')
  if (segments.includes('')) return 'it has an empty name between slashes'
  if (segments.some((segment) => segment === '.' || segment === '..')) return 'it has a "." or ".." name'
  if (segments[0] === reservedDir) return `"${reservedDir}/" is reserved for flux's ledger and lease`
  return undefined
}

/** `KEY_INVALID` naming the key, the store (`describe()`) and what is wrong with it. */
export function invalidBlobKey(key: string, store: string, reason: string): FluxError {
  return new FluxError('KEY_INVALID', `invalid blob key "${key}" in ${store}: ${reason}`, {
    hint: 'a key is a relative path of names separated by single "/", like "photos/2026/a.jpg", without "." or ".." names or backslashes',
  })
}

/**
 * What is wrong with a ledger entry read back from a store that keeps it as JSON, phrased to
 * follow "entry N" (`has no string "id"`); `undefined` when it has every field of
 * {@link LedgerEntry} with its type.
 */
export function ledgerEntryProblem(entry: unknown): string | undefined {
  if (typeof entry !== 'object' || entry === null) return 'is not an object'
  const record = entry as Record<string, unknown>
  for (const field of ['id', 'checksum', 'appliedAt', 'runId', 'fluxVersion']) {
    if (typeof record[field] !== 'string') return `has no string "${field}"`
  }
  if (record.status !== 'applied' && record.status !== 'running') return 'has a "status" other than applied or running'
  if (typeof record.durationMs !== 'number') return 'has no number "durationMs"'
  return undefined
}

/**
 * What a {@link Ledger.write} does, for adapters' messages: `record app/002_b as applied and
 * app/003_c as running`, `remove app/003_c and record app/002_b as running`.
 */
export function describeChanges(changes: readonly LedgerChange[]): string {
  return changes
    .map((change, index) => {
      const verb = 'record' in change ? 'record' : 'remove'
      const previous = changes[index - 1]
      const same = previous !== undefined && ('record' in previous ? 'record' : 'remove') === verb
      const what = 'record' in change ? `${change.record.id} as ${change.record.status}` : change.remove
      return index === 0 ? `${verb} ${what}` : same ? what : `${verb} ${what}`
    })
    .join(' and ')
}
