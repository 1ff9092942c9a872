import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { FluxError } from '@flux/core'
import type { ForeignMigration, ImportFormat, SqlClient } from '../import-format.ts'
import { dirtyError, missingError, needsNoTransaction, tableExists } from '../sql-text.ts'

const TABLE = 'flyway_schema_history'
/** Flyway's file names: versioned, undo (Teams) and repeatable, with the default prefixes and separator. */
const FILE = /^([VU])([0-9][0-9._]*)__(.+)\.sql$|^R__(.+)\.sql$/

interface Row {
  installed_rank: number
  version: string | null
  description: string
  type: string
  script: string
  checksum: number | null
  success: boolean
}

/**
 * Flyway: `V<version>__<description>.sql` in version order (`1.1` and `1_1` are one version,
 * compared part by part as numbers), `U<version>__….sql` as their downs, and `R__<description>.sql`
 * repeatables, run after every versioned migration, by description, again when they change.
 * `<file>.sql.conf` with `executeInTransaction=false` runs a file outside a transaction. The ledger
 * `flyway_schema_history` has a row per run, `success` false for a failure, `checksum` the CRC32
 * of the file's lines (without line breaks) as a signed int: Flyway's `validate` refuses an applied
 * migration whose file no longer has its checksum, and so does the import.
 */
export const flyway: ImportFormat = {
  tool: 'flyway',
  summary: 'V<version>__<name>.sql, U… as downs, R__<name>.sql as repeatables; its flyway_schema_history table',
  storeKind: 'pg',
  defaultFrom: 'src/main/resources/db/migration',

  async readHistory(dir) {
    const files = (await readdir(dir)).sort()
    const versioned = new Map<string, { parts: bigint[]; up?: string; down?: string }>()
    const repeatables: { description: string; file: string }[] = []
    const skipped: { file: string; reason: string }[] = []
    for (const file of files) {
      const match = FILE.exec(file)
      if (!match) {
        if (file.endsWith('.sql')) skipped.push({ file, reason: 'not V<version>__, U<version>__ or R__<name>.sql' })
        continue
      }
      if (match[4] !== undefined) {
        repeatables.push({ description: match[4].replaceAll('_', ' '), file })
        continue
      }
      const parts = match[2]!
        .split(/[._]/)
        .filter((part) => part !== '')
        .map(BigInt)
      const version = parts.join('.')
      const entry = versioned.get(version) ?? { parts }
      const direction = match[1] === 'V' ? 'up' : 'down'
      if (entry[direction] !== undefined) {
        throw new FluxError(
          'MIGRATION_INVALID',
          `${dir} has two ${match[1]} files for version ${version}: ${entry[direction]} and ${file}`,
          {
            file: join(dir, file),
            hint: 'Flyway refuses this folder too: keep one file per version',
          },
        )
      }
      entry[direction] = file
      versioned.set(version, entry)
    }
    const migrations: ForeignMigration[] = []
    for (const [version, entry] of [...versioned].sort(([, a], [, b]) => compareVersions(a.parts, b.parts))) {
      if (entry.up === undefined) {
        skipped.push({ file: entry.down!, reason: 'an undo file without its versioned file' })
        continue
      }
      migrations.push(await migrationOf(dir, version, entry.up, entry.down))
    }
    repeatables.sort((a, b) => (a.description < b.description ? -1 : a.description > b.description ? 1 : 0))
    for (const { file } of repeatables) {
      const migration = await migrationOf(dir, undefined, file, undefined)
      // Flyway's undo leaves repeatables as they are: so does flux's down
      const down = `-- Flyway has no undo for a repeatable: reverting ${file} changes nothing, as \`flyway undo\` leaves it\n`
      migrations.push({ ...migration, down, repeatable: true })
    }
    return { migrations, skipped }
  },

  async readApplied(client, history) {
    const sql = client as SqlClient
    if (!(await tableExists(sql, TABLE))) return undefined
    const { rows } = await sql.query<Row>(
      `select installed_rank, version, description, type, script, checksum, success from ${TABLE} order by installed_rank`,
    )
    const byKey = new Map(history.migrations.map((migration) => [migration.key, migration]))
    const applied = new Map<string, Row>()
    let baseline: bigint[] | undefined
    for (const row of rows) {
      const key = row.version === null ? `R:${row.description}` : normalVersion(row.version)
      if (!row.success) {
        throw dirtyError(
          'flyway',
          TABLE,
          `${row.script} (installed_rank ${row.installed_rank})`,
          'failed (success = false)',
          'undo or finish its changes by hand, then `flyway repair` (which removes the failed row)',
        )
      }
      if (row.type === 'BASELINE') baseline = versionParts(row.version ?? '0')
      else if (row.type === 'UNDO_SQL') applied.delete(key)
      else if (row.type === 'SQL' || row.type === 'JDBC' || row.type === 'SCRIPT') applied.set(key, row)
    }
    const keys: string[] = []
    for (const migration of history.migrations) {
      if (migration.repeatable) continue
      const row = applied.get(migration.key)
      if (row === undefined) {
        if (baseline && compareVersions(versionParts(migration.key), baseline) <= 0) keys.push(migration.key)
        continue
      }
      const checksum = flywayChecksum(migration.up)
      if (row.checksum !== null && row.checksum !== checksum) {
        throw new FluxError(
          'DRIFT',
          `${migration.sources[0]} changed after Flyway applied it (${TABLE} has checksum ${row.checksum}, the file ${checksum}): Flyway's validate refuses this too, nothing was imported`,
          { hint: 'restore the file as it was applied, or accept the change with `flyway repair`, then import again' },
        )
      }
      keys.push(migration.key)
    }
    for (const [key, row] of applied)
      if (!byKey.has(key)) throw missingError('flyway', TABLE, row.script, 'the migrations folder')
    // a repeatable counts as applied while its file is as Flyway last ran it, once every versioned migration is
    const versions = history.migrations.filter((migration) => !migration.repeatable)
    if (keys.length === versions.length) {
      for (const migration of history.migrations.filter((candidate) => candidate.repeatable)) {
        const row = applied.get(migration.key)
        if (row?.checksum !== flywayChecksum(migration.up)) break
        keys.push(migration.key)
      }
    }
    return { table: TABLE, applied: keys }
  },
}

async function migrationOf(
  dir: string,
  version: string | undefined,
  up: string,
  down: string | undefined,
): Promise<ForeignMigration> {
  const upText = await readFile(join(dir, up), 'utf8')
  const downText = down === undefined ? undefined : await readFile(join(dir, down), 'utf8')
  const configured = await readFile(join(dir, `${up}.conf`), 'utf8').catch(() => '')
  const reason = /^\s*executeInTransaction\s*=\s*false\s*$/m.test(configured)
    ? `${up}.conf: executeInTransaction=false`
    : (needsNoTransaction(upText) ?? (downText === undefined ? undefined : needsNoTransaction(downText)))
  return {
    key: version ?? `R:${FILE.exec(up)![4]!.replaceAll('_', ' ')}`,
    name: up.slice(0, -'.sql'.length),
    sources: down === undefined ? [up] : [up, down],
    up: upText,
    ...(downText === undefined ? {} : { down: downText }),
    transaction: reason === undefined,
    ...(reason === undefined ? {} : { transactionReason: reason }),
  }
}

/** Flyway's checksum: the CRC32 of the file's lines, each without its line break, as a signed 32-bit int. */
export function flywayChecksum(text: string): number {
  let crc = 0
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/)
  if (lines[lines.length - 1] === '') lines.pop()
  for (const line of lines) crc = crc32(Buffer.from(line, 'utf8'), crc)
  return crc | 0
}

function versionParts(version: string): bigint[] {
  return version
    .split(/[._]/)
    .filter((part) => part !== '')
    .map(BigInt)
}

function normalVersion(version: string): string {
  return versionParts(version).join('.')
}

function compareVersions(a: readonly bigint[], b: readonly bigint[]): number {
  for (let index = 0; index < Math.max(a.length, b.length); index++) {
    const left = a[index] ?? 0n
    const right = b[index] ?? 0n
    if (left !== right) return left < right ? -1 : 1
  }
  return 0
}
