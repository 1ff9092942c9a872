import { createHash } from 'node:crypto'
import { FluxError } from '../errors.ts'
import type { DataKey, DataSource } from './data-types.ts'

/** How many missing and extra keys a {@link CopyReport} lists at most. */
export const DEFAULT_EXAMPLES = 5

export interface VerifyCopyOptions {
  /** What was copied. */
  from: DataSource<any>
  /** Where it was copied to, read back: its keys must be the source's keys. */
  to: DataSource<any>
  /**
   * Also compares the keys themselves, not only the counts, and names missing and extra keys.
   * Reads every key of both sides once (twice where they differ); memory stays bounded by the
   * batch size (plus the keys of the few hash buckets that differ). Default `false`: counts only.
   */
  checksum?: boolean
  /** Keys per batch when reading keys. Default 1,000. */
  batchSize?: number
  /** How many missing and extra keys to name. Default {@link DEFAULT_EXAMPLES}. */
  examples?: number
  /** Return the report rather than throw when the sides differ. Default `false`. */
  report?: boolean
}

/** What {@link verifyCopy} found. */
export interface CopyReport {
  /** The counts (and, with `checksum`, the keys) agree. */
  ok: boolean
  from: { describe: string; count: number }
  to: { describe: string; count: number }
  /** With `checksum`: keys of the source that the target lacks (a few examples), and how many in all. */
  missing: { count: number; examples: DataKey[] }
  /** With `checksum`: keys of the target that the source lacks (a few examples), and how many in all. */
  extra: { count: number; examples: DataKey[] }
}

const BUCKETS = 256

/**
 * Checks a copy: compares the row counts of `from` and `to` and, with `checksum: true`, a
 * checksum of their keys, then names missing and extra keys. Throws an `INTEGRITY` error
 * (exit 3) saying what differs, or with `report: true` returns the report.
 *
 * @example
 * ```ts
 * await verifyCopy({ from: pgRows(ctx.stores.main, { table: 'review' }), to: mongoDocuments(ctx.store, 'reviews'), checksum: true })
 * ```
 */
export async function verifyCopy(options: VerifyCopyOptions): Promise<CopyReport> {
  const { from, to } = options
  const batchSize = options.batchSize ?? 1_000
  const examples = options.examples ?? DEFAULT_EXAMPLES
  const report: CopyReport = {
    ok: true,
    from: { describe: from.describe(), count: 0 },
    to: { describe: to.describe(), count: 0 },
    missing: { count: 0, examples: [] },
    extra: { count: 0, examples: [] },
  }
  if (options.checksum) {
    const [source, target] = await Promise.all([buckets(from, batchSize), buckets(to, batchSize)])
    report.from.count = source.count
    report.to.count = target.count
    const differing = new Set<number>()
    for (let bucket = 0; bucket < BUCKETS; bucket++)
      if (source.counts[bucket] !== target.counts[bucket] || !source.sums[bucket]!.equals(target.sums[bucket]!))
        differing.add(bucket)
    if (differing.size > 0) {
      // a second pass over only the keys of the buckets that differ
      const [sourceKeys, targetKeys] = await Promise.all([
        keysIn(from, differing, batchSize),
        keysIn(to, differing, batchSize),
      ])
      for (const [text, key] of sourceKeys)
        if (!targetKeys.has(text) && report.missing.count++ < examples) report.missing.examples.push(key)
      for (const [text, key] of targetKeys)
        if (!sourceKeys.has(text) && report.extra.count++ < examples) report.extra.examples.push(key)
    }
    report.ok = differing.size === 0
  } else {
    const [source, target] = await Promise.all([countOf(from, batchSize), countOf(to, batchSize)])
    report.from.count = source
    report.to.count = target
    report.ok = source === target
  }
  if (!report.ok && !options.report) throw mismatch(report)
  return report
}

function mismatch(report: CopyReport): FluxError {
  const parts = [`${report.from.describe} has ${report.from.count} rows, ${report.to.describe} has ${report.to.count}`]
  const name = (keys: DataKey[], count: number) =>
    `${keys.map((key) => JSON.stringify(key)).join(', ')}${count > keys.length ? ` and ${count - keys.length} more` : ''}`
  if (report.missing.count > 0)
    parts.push(`missing from the target: ${name(report.missing.examples, report.missing.count)}`)
  if (report.extra.count > 0) parts.push(`extra in the target: ${name(report.extra.examples, report.extra.count)}`)
  return new FluxError('INTEGRITY', `the copy does not match its source: ${parts.join('; ')}`, {
    hint: 'run the copy again (it writes missing rows and replaces changed ones); delete extra rows by hand if the source lost them on purpose',
    details: { ...report },
  })
}

async function countOf(source: DataSource<any>, batchSize: number): Promise<number> {
  if (source.count) return source.count()
  let count = 0
  for await (const keys of keysOf(source, batchSize)) count += keys.length
  return count
}

async function* keysOf(source: DataSource<any>, batchSize: number): AsyncIterable<DataKey[]> {
  if (source.keys) {
    yield* source.keys(batchSize)
    return
  }
  for await (const rows of source.read(undefined, batchSize)) yield rows.map((row) => source.keyOf(row))
}

/** Per hash bucket: how many keys, and the sum of their hashes (order does not matter). */
async function buckets(source: DataSource<any>, batchSize: number) {
  const counts = new Array<number>(BUCKETS).fill(0)
  const sums = Array.from({ length: BUCKETS }, () => Buffer.alloc(16))
  let count = 0
  for await (const keys of keysOf(source, batchSize)) {
    for (const key of keys) {
      const digest = hashOf(JSON.stringify(key))
      const bucket = digest[0]!
      counts[bucket]!++
      addInto(sums[bucket]!, digest)
      count++
    }
  }
  return { counts, sums, count }
}

async function keysIn(source: DataSource<any>, wanted: Set<number>, batchSize: number): Promise<Map<string, DataKey>> {
  const found = new Map<string, DataKey>()
  for await (const keys of keysOf(source, batchSize))
    for (const key of keys) {
      const text = JSON.stringify(key)
      if (wanted.has(hashOf(text)[0]!)) found.set(text, key)
    }
  return found
}

const hashOf = (text: string) => createHash('sha256').update(text).digest()

/** Adds the first 16 bytes of `digest` into `sum`, modulo 2^128: a sum, so order does not matter. */
function addInto(sum: Buffer, digest: Buffer): void {
  let carry = 0
  for (let index = 15; index >= 0; index--) {
    const value = sum[index]! + digest[index]! + carry
    sum[index] = value & 0xff
    carry = value >> 8
  }
}
