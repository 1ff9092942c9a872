import { readdir, readFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { type Adapter, FluxError, messageOf } from '@flux/core'
import type { ForeignHistory, ForeignLedger, ForeignMigration, ImportFormat } from './import-format.ts'

/** What a baseline import found: shown by `flux import` beside the file it writes. */
export interface BaselineSummary {
  /** The tool's ledger, as the user knows it: `knex_migrations`. */
  table: string
  /** The migrations its ledger records as applied, in its order: the baseline stands for them. */
  applied: string[]
}

/**
 * A ledger-only tool (knex, node-pg-migrate, Alembic, Django, umzug): its migrations are code flux
 * does not rewrite, so ONE flux migration, `<UTC timestamp>_baseline-from-<tool>.sql`, stands for
 * those its ledger applied. Its up does nothing (a comment lists them) and it has no down: the
 * import records it as applied, and the team's next migrations follow it. Reads the tool's
 * ledger now, before anything is written, and stops: when the store cannot be reached (no
 * baseline can be written without its ledger), when the tool never ran there, and when its
 * folder holds migrations its ledger has not applied (they would be lost: run them with the
 * tool first). Returns the history of that one migration, and a format whose ledger says it is
 * applied, for the rest of the import.
 */
export async function baselineOf(
  adapter: Adapter,
  store: string,
  format: ImportFormat,
  folder: ForeignHistory,
  fluxDir: string,
): Promise<{ history: ForeignHistory; format: ImportFormat; summary: BaselineSummary }> {
  const ledger = await readToolLedger(adapter, store, format, folder)
  if (!ledger) {
    throw new FluxError(
      'USAGE',
      `${format.tool} has no ledger in store "${store}": it never ran there, so there is nothing to baseline`,
      {
        store,
        hint: `point --store at the store ${format.tool} migrated (or its URL at that database); a store ${format.tool} never touched needs no import: start with \`flux new\``,
      },
    )
  }
  const applied = new Set(ledger.applied)
  const pending = folder.migrations.filter((migration) => !applied.has(migration.key))
  if (pending.length > 0) {
    const shown = pending.slice(0, 10).map((migration) => migration.sources[0] ?? migration.key)
    const more = pending.length > shown.length ? `, and ${pending.length - shown.length} more` : ''
    throw new FluxError(
      'USAGE',
      `${format.tool}'s ${ledger.table} has not applied ${pending.length} migration${pending.length === 1 ? '' : 's'} of its folder: ${shown.join(', ')}${more}; flux does not run ${format.tool}'s code, so the baseline cannot stand for them: nothing was imported`,
      {
        store,
        hint: `run them with ${format.tool} first (or move them out of the folder if they are never to run), then import again`,
      },
    )
  }
  const existing = await existingBaseline(fluxDir, format.tool)
  if (existing && !sameList(existing.listed, ledger.applied)) {
    const added = ledger.applied.filter((key) => !existing.listed.includes(key))
    throw new FluxError(
      'USAGE',
      `${existing.file} stands for ${existing.listed.length} ${format.tool} migrations, but ${ledger.table} now records ${ledger.applied.length}${added.length > 0 ? ` (new: ${added.slice(0, 10).join(', ')})` : ''}: ${format.tool} ran after flux took over; nothing was imported`,
      {
        store,
        hint: `write what ${format.tool} changed since as flux migrations; or, if flux has run nothing after the baseline, remove ${existing.file} and flux's ledger in store "${store}", then import again`,
      },
    )
  }
  const name = existing?.name ?? `${utcStamp(new Date())}_baseline-from-${format.tool}`
  const listed = ledger.applied.map((key) => `--   ${key}\n`).join('')
  const count = `${ledger.applied.length} ${format.tool} migration${ledger.applied.length === 1 ? '' : 's'}`
  const baseline: ForeignMigration = {
    key: BASELINE_KEY,
    name,
    sources: [ledger.table],
    up: `-- A baseline: it does nothing. It stands for the ${count} that ${ledger.table} recorded as applied
-- when flux took over. Their code stays in ${format.tool}'s folder: flux does not run it. It has no down:
-- revert those migrations with ${format.tool}.
${listed}`,
    transaction: true,
  }
  const summary: BaselineSummary = { table: ledger.table, applied: ledger.applied }
  return {
    history: { migrations: [baseline], ...(folder.skipped ? { skipped: folder.skipped } : {}) },
    format: { ...format, readApplied: async () => ({ table: ledger.table, applied: [BASELINE_KEY] }) },
    summary,
  }
}

const BASELINE_KEY = 'baseline'

async function readToolLedger(
  adapter: Adapter,
  store: string,
  format: ImportFormat,
  folder: ForeignHistory,
): Promise<ForeignLedger | undefined> {
  try {
    await adapter.open()
  } catch (error) {
    if (FluxError.is(error)) throw error
    throw new FluxError('STORE_UNAVAILABLE', `store "${store}" could not be reached: ${firstLine(messageOf(error))}`, {
      store,
      hint: `a baseline is written from ${format.tool}'s ledger: import when the store is reachable (nothing was written)`,
    })
  }
  try {
    return await format.readApplied(adapter.client(), folder)
  } catch (error) {
    if (FluxError.is(error)) throw error
    throw new FluxError(
      'STORE_ERROR',
      `store "${store}": could not read ${format.tool}'s ledger: ${firstLine(messageOf(error))}`,
      { store, cause: error },
    )
  } finally {
    await adapter.close()
  }
}

/**
 * The baseline an earlier import wrote, so that importing again finds it: its name, its file
 * (for messages) and the migrations it lists.
 */
async function existingBaseline(
  dir: string,
  tool: string,
): Promise<{ name: string; file: string; listed: string[] } | undefined> {
  const files = await readdir(dir).catch(() => [] as string[])
  const pattern = new RegExp(`^(\\d{14}_baseline-from-${tool.replace(/[^A-Za-z0-9]/g, '\\$&')})\\.sql$`)
  const file = files.find((candidate) => pattern.test(candidate))
  if (file === undefined) return undefined
  const text = await readFile(join(dir, file), 'utf8')
  const listed = [...text.matchAll(/^-- {3}(.+)$/gm)].map((match) => match[1]!)
  return { name: file.slice(0, -'.sql'.length), file: relative(process.cwd(), join(dir, file)), listed }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((key, index) => key === b[index])
}

/** `YYYYMMDDHHMMSS` in UTC, as `flux new` names files. */
function utcStamp(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, '').slice(0, 14)
}

function firstLine(text: string): string {
  return text.split('\n')[0]!
}

/** A ledger-only format's entry for one file of its folder: only its key, name and file are read. */
export function folderEntry(key: string, file: string): ForeignMigration {
  return { key, name: key, sources: [file], up: '', transaction: true }
}
