// What each fault test saw, per store, kept in a JSON file per test so that the table at the
// end of the run (figures-setup.ts) shows every figure, also those of tests that failed.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { inject } from 'vitest'
import type { StoreName } from './store-kit.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    /** The folder of this run's figure files, made by figures-setup.ts (one per run: runs may overlap). */
    faultFigures: string
  }
}

/** (a) concurrent runners. */
export interface RunnersFigures {
  runners: number
  migrations: number
  doubles: number
  /** Runners the store refused outright (PGlite: its directory is open in another process). */
  refused: number
}

/** (b) SIGKILL at random points. */
export interface KillsFigures {
  kills: number
  doubles: number
  silentSkips: number
  /** Migrations a kill left dirty, and how many of them the next `up` named. */
  dirty: number
  named: number
  /** In-flight migrations a kill left pending with nothing of them in the store. */
  rolledBack: number
  /** In-flight migrations a kill left pending although the store holds their effect: the next run applies them again. */
  unrecorded: number
}

/** (c) pause past the ttl. */
export interface PauseFigures {
  /** Ledger entries the stale runner added, changed or removed after the take-over (null: not measured). */
  staleLedgerWrites: number | null
  /** Effects the stale runner left after the take-over, beyond its in-flight migration's own. */
  staleStoreWrites: number | null
  /** Effects of the migration it was running when it froze (not fenced on stores without transactions). */
  inFlightWrites: number | null
  contract: string
  /** Whether the stale runner's error names the runner that took over (its host and pid). */
  namesHolder: boolean | null
  /** What the stale runner was told, first line. */
  staleError: string
  /** Why the scenario does not apply, where it does not. */
  unavailable?: string
}

/** (d) connection cut by a proxy. */
export interface CutFigures {
  exit: number | null
  namesStore: boolean
  exact: boolean
  once: boolean
  unavailable?: string
}

export type Part = 'a' | 'b' | 'c' | 'd'

interface FigureFile {
  part: Part
  store: StoreName
  figures: Record<string, unknown>
  /** First line of the assertion or error that failed the test. */
  failure?: string
}

/**
 * Runs one fault test, writing `figures` (which the body fills as it goes) to a file whether
 * it passes or not; the table shows a failed test's figures as far as it got, and why.
 */
export async function measure<Figures extends object>(
  part: Part,
  store: StoreName,
  figures: Figures,
  body: (figures: Figures) => Promise<void>,
): Promise<void> {
  let failure: string | undefined
  try {
    await body(figures)
  } catch (error) {
    // the line that says what went wrong: a runner's output may start with where it was thrown
    const lines = ((error as Error).message ?? String(error)).split('\n').filter((line) => line.trim() !== '')
    failure = lines.find((line) => /error/i.test(line)) ?? lines[0]
    throw error
  } finally {
    write({ part, store, figures: figures as Record<string, unknown>, ...(failure ? { failure } : {}) })
  }
}

/** Records that a fault does not apply to a store (no connection to cut), and why, for the table. */
export function recordNotApplicable(part: Part, store: StoreName, reason: string): void {
  write({ part, store, figures: { unavailable: reason } })
}

function write(file: FigureFile): void {
  writeFileSync(join(inject('faultFigures'), `${file.part}-${file.store}.json`), `${JSON.stringify(file, null, 2)}\n`)
}

const STORES: StoreName[] = ['fs', 'pglite', 'pg', 'redis', 'redis-cluster', 'mongo', 's3']
const HEADERS = [
  'store',
  '(a) runners/migrations/doubles',
  '(b) kills/doubles/silent skips/dirty named',
  '(c) stale ledger writes/stale store writes/contract',
  '(d) exit/exact/once',
]

function cell(file: FigureFile | undefined): string {
  if (!file) return 'not run'
  const f = file.figures as Record<string, never>
  const mark = file.failure ? ' ✗' : ' ✓'
  switch (file.part) {
    case 'a': {
      const figures = f as unknown as RunnersFigures
      const refused = figures.refused ? ` (${figures.refused} refused: directory open)` : ''
      return `${figures.runners}/${figures.migrations}/${figures.doubles}${refused}${mark}`
    }
    case 'b': {
      const figures = f as unknown as KillsFigures
      const unrecorded = figures.unrecorded ? ` (${figures.unrecorded} applied, recorded pending)` : ''
      return `${figures.kills}/${figures.doubles}/${figures.silentSkips}/${figures.named} of ${figures.dirty}${unrecorded}${mark}`
    }
    case 'c': {
      const figures = f as unknown as PauseFigures
      if (figures.unavailable) return `n/a: ${figures.unavailable}${mark}`
      const inFlight = figures.inFlightWrites ? ` (+${figures.inFlightWrites} in-flight)` : ''
      const holder = figures.namesHolder === false ? ', new holder not named' : ''
      return `${figures.staleLedgerWrites ?? '-'}/${figures.staleStoreWrites ?? '-'}${inFlight}/${figures.contract}${holder}${mark}`
    }
    case 'd': {
      const figures = f as unknown as CutFigures
      if (figures.unavailable) return `n/a: ${figures.unavailable}`
      const store = figures.namesStore ? '' : ' (store not named)'
      return `${figures.exit ?? '-'}${store}/${figures.exact ? 'yes' : 'no'}/${figures.once ? 'yes' : 'no'}${mark}`
    }
  }
}

/** The table of every figure file in `dir`, and the failures under it. */
export function figuresTable(dir: string): string {
  const files: FigureFile[] = []
  for (const name of readdirSync(dir)) {
    if (name.endsWith('.json')) files.push(JSON.parse(readFileSync(join(dir, name), 'utf8')))
  }
  if (files.length === 0) return 'fault suite: no figures were written'
  const find = (store: StoreName, part: Part) => files.find((file) => file.store === store && file.part === part)
  const rows = STORES.filter((store) => files.some((file) => file.store === store)).map((store) => [
    store,
    ...(['a', 'b', 'c', 'd'] as const).map((part) => cell(find(store, part))),
  ])
  const widths = HEADERS.map((header, column) => Math.max(header.length, ...rows.map((row) => row[column]!.length)))
  const line = (row: string[]) => `| ${row.map((text, column) => text.padEnd(widths[column]!)).join(' | ')} |`
  const failures = files.filter((file) => file.failure).map((file) => `  (${file.part}) ${file.store}: ${file.failure}`)
  return [
    'fault suite: figures per store',
    line(HEADERS),
    line(widths.map((width) => '-'.repeat(width))),
    ...rows.map(line),
    ...(failures.length ? ['failed:', ...failures] : []),
  ].join('\n')
}
