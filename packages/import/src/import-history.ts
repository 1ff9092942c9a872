import { mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join, relative, resolve } from 'node:path'
import {
  type Adapter,
  checksumOf,
  FluxError,
  isInstalledPackageDir,
  type LedgerEntry,
  markMigrations,
  messageOf,
  type Project,
  updateSum,
} from '@flux/core'
import { type BaselineSummary, baselineOf } from './baseline.ts'
import { fluxFileText } from './flux-file.ts'
import { formatOf, IMPORT_FORMATS } from './formats.ts'
import type { FluxFile, ForeignHistory, ForeignLedger, ImportFormat } from './import-format.ts'

export interface ImportOptions {
  /** The other tool: `golang-migrate`, … (see {@link IMPORT_FORMATS}). */
  tool: string
  /** The store its migrations ran on. */
  store: string
  /** The tool's folder, relative to the project's root. Default: the tool's own default. */
  from?: string | undefined
  /** The component whose folder receives the files. Default: the application. */
  component?: string | undefined
  /** Read everything, write nothing: the result is the plan. */
  dryRun?: boolean | undefined
  /** Loads the project again (after the files are written), as the command loaded it. */
  reload: () => Promise<Project>
}

/** One flux migration file of the import. */
export interface ImportedFile {
  id: string
  /** Relative to the working directory. */
  file: string
  /** Checksum of the file, recorded in flux's ledger for an applied migration. */
  checksum: string
  /** `false` when the same file was already there (an earlier import). */
  write: boolean
}

export interface ImportResult {
  tool: string
  store: string
  /** The tool's folder, relative to the working directory. */
  from: string
  /** The flux migrations folder written, relative to the working directory. */
  folder: string
  dryRun: boolean
  files: ImportedFile[]
  /** Ids recorded as applied in flux's ledger (in a dry run: that would be). */
  recorded: string[]
  /** What the tool's ledger said: absent when the tool never ran on the store. */
  ledger: { table: string; applied: number } | { absent: true } | { unreachable: string }
  /** Files the tool ignores, with why. */
  skipped: { file: string; reason: string }[]
  /** Nothing was left to write or record: the history was imported before. */
  nothing: boolean
  /** A ledger-only tool's import: the one baseline file stands for these applied migrations. */
  baseline?: BaselineSummary
}

/**
 * `flux import <tool>`: reads the tool's folder and ledger, then writes one flux `.sql` file per
 * migration (the tool's SQL byte for byte, its order as a chain of parents), updates the
 * folder's `flux.sum`, and records in flux's ledger, without running them, the migrations the
 * tool had applied. Everything is read and checked before anything is written: a dirty entry,
 * an entry without a file, a file in the way, and nothing changes. The tool's ledger is only
 * read. Running it again writes and records only what is new.
 */
export async function importHistory(project: Project, options: ImportOptions): Promise<ImportResult> {
  const format = formatOf(options.tool)
  if (!format) {
    throw new FluxError('USAGE', `flux import does not know "${options.tool}"`, {
      hint: `the tools it imports: ${IMPORT_FORMATS.map((known) => known.tool).join(', ')}`,
    })
  }
  const adapter = storeOf(project, options.store, format)
  const component = componentOf(project, options.component)
  if (await isInstalledPackageDir(component.dir)) {
    throw new FluxError('USAGE', `component "${component.name}" is an installed package: flux writes no files there`, {
      hint: 'import into the application (leave out --component) or into a component of this repository',
    })
  }
  const fromDir = resolve(project.root, options.from ?? format.defaultFrom)
  const from = relative(process.cwd(), fromDir) || '.'
  const folder = relative(process.cwd(), component.dir) || '.'
  if (fromDir === component.dir) {
    throw new FluxError('USAGE', `--from ${from} is flux's own migrations folder`, {
      hint: `move the ${format.tool} files elsewhere (or name flux's folder otherwise in the config) and pass --from`,
    })
  }
  if (!(await isDirectory(fromDir))) {
    throw new FluxError('USAGE', `${from} is not a folder: no ${format.tool} migrations to import`, {
      hint: `pass --from <the folder of the ${format.tool} migrations> (default ${format.defaultFrom})`,
    })
  }
  let history = await format.readHistory(fromDir)
  if (history.migrations.length === 0) {
    throw new FluxError('USAGE', `${from} holds no ${format.tool} migrations`, {
      hint: `pass --from <the folder of the ${format.tool} migrations>`,
    })
  }
  // a tool whose migrations are code: one baseline migration stands for those its ledger applied
  const baseline =
    format.kind === 'ledger-only' ? await baselineOf(adapter, options.store, format, history, component.dir) : undefined
  if (baseline) history = baseline.history
  const planned = await plannedFiles(project, component, format, storeInFiles(component, options.store), history)
  const ledgers = await readLedgers(adapter, options.store, baseline?.format ?? format, history)
  const result: ImportResult = {
    tool: format.tool,
    store: options.store,
    from,
    folder,
    dryRun: options.dryRun === true,
    files: planned.map(({ file }) => file),
    recorded: [],
    ledger: baseline ? { table: baseline.summary.table, applied: baseline.summary.applied.length } : ledgers.foreign,
    skipped: history.skipped ?? [],
    nothing: false,
    ...(baseline ? { baseline: baseline.summary } : {}),
  }
  if (ledgers.applied.length > 0) {
    const recorded = new Set(ledgers.flux.filter((entry) => entry.status === 'applied').map((entry) => entry.id))
    const ids = new Map(history.migrations.map((migration, index) => [migration.key, planned[index]!.file.id]))
    result.recorded = ledgers.applied.map((key) => ids.get(key)!).filter((id) => !recorded.has(id))
  }
  result.nothing = result.files.every((file) => !file.write) && result.recorded.length === 0
  if (result.dryRun || result.nothing) return result

  await mkdir(component.dir, { recursive: true })
  for (const { file, path, text, companions } of planned) {
    for (const companion of companions)
      if (companion.write) await writeFile(companion.path, companion.text, { flag: 'wx' })
    if (file.write) await writeFile(path, text, { flag: 'wx' })
  }
  await updateSum(
    component.dir,
    planned.map(({ path }) => relative(component.dir, path)),
    project.loaders.keys(),
  )
  if (result.recorded.length > 0) {
    // the applied migrations are a prefix of the chain: the last one and its ancestors are all of them
    const last = result.recorded[result.recorded.length - 1]!
    await markMigrations(await options.reload(), last, 'applied', { withAncestors: true })
  }
  return result
}

function storeOf(project: Project, store: string, format: ImportFormat): Adapter {
  const adapter = project.adapters[store]
  const names = Object.keys(project.adapters)
  if (!adapter) {
    throw new FluxError('USAGE', `unknown store "${store}"`, {
      hint: `pass --store with one of: ${names.join(', ') || '(none: add a store to the config first)'}`,
    })
  }
  if (adapter.kind !== format.storeKind) {
    const fitting = names.filter((name) => project.adapters[name]!.kind === format.storeKind)
    throw new FluxError(
      'USAGE',
      `store "${store}" is ${adapter.kind}: ${format.tool} migrations run on a ${format.storeKind} store`,
      { hint: `pass --store with one of: ${fitting.join(', ') || `(none: add a ${format.storeKind} store first)`}` },
    )
  }
  return adapter
}

function componentOf(project: Project, name: string | undefined) {
  if (name === undefined) return project.components[0]!
  const component = project.components.find((candidate) => candidate.name === name)
  if (!component) {
    throw new FluxError('USAGE', `unknown component "${name}"`, {
      hint: `components of this project: ${project.components.map((candidate) => candidate.name).join(', ')}`,
    })
  }
  return component
}

/**
 * The store as the component's files name it: a component package names roles, bound to the
 * application's stores in its config; the application names the store itself.
 */
function storeInFiles(component: Project['components'][number], store: string): string {
  if (!component.roles) return store
  const role = Object.keys(component.roles).find((candidate) => component.roles![candidate] === store)
  if (role === undefined) {
    const bound = Object.entries(component.roles).map(([name, target]) => `${name} → ${target}`)
    throw new FluxError('USAGE', `component "${component.name}" has no role bound to store "${store}"`, {
      hint: `its roles: ${bound.join(', ') || 'none'}; bind one to "${store}" in the config's components, or pass another --store`,
    })
  }
  return role
}

interface PlannedFile {
  file: ImportedFile
  path: string
  text: string
  /** Files written beside it ({@link FluxFile.companions}), each still to be written or not. */
  companions: { path: string; text: string; write: boolean }[]
}

/**
 * The flux file of each migration, and whether it is still to be written. Refuses a file of
 * that name with other content, and a migration of the folder that would sort among the
 * imported ones (a file without parents follows the previous file by name: it would change).
 */
async function plannedFiles(
  project: Project,
  component: Project['components'][number],
  format: ImportFormat,
  store: string,
  history: ForeignHistory,
): Promise<PlannedFile[]> {
  const planned: PlannedFile[] = []
  let parent: string | undefined
  for (const migration of history.migrations) {
    const flux: FluxFile = format.fileOf?.(migration, { store, parent }) ?? {
      extension: '.sql',
      text: fluxFileText(migration, { tool: format.tool, store, parent }),
    }
    const { text } = flux
    const path = join(component.dir, `${migration.name}${flux.extension}`)
    const display = relative(process.cwd(), path)
    const companions: PlannedFile['companions'] = []
    for (const companion of flux.companions ?? []) {
      const beside = join(component.dir, companion.fileName)
      const found = await readIfExists(beside)
      if (found !== undefined && found !== companion.text) {
        throw new FluxError(
          'INTEGRITY',
          `${relative(process.cwd(), beside)} exists and is not ${format.tool}'s ${migration.sources[0]}`,
          {
            file: relative(process.cwd(), beside),
            hint: 'it was edited after an earlier import, or another file has its name: move it away to import again, or leave the history as it is',
          },
        )
      }
      companions.push({ path: beside, text: companion.text, write: found === undefined })
    }
    const existing = await readIfExists(path)
    if (existing !== undefined && existing !== text) {
      throw new FluxError(
        'INTEGRITY',
        `${display} exists and is not what ${format.tool}'s ${migration.sources[0]} gives`,
        {
          file: display,
          hint: `it was edited after an earlier import, or another file has its name: move it away to import again, or leave the history as it is`,
        },
      )
    }
    const id = `${component.name}/${migration.name}`
    const other = project.migrations.find((loaded) => loaded.id === id && loaded.file !== path)
    if (other) {
      throw new FluxError('USAGE', `${other.displayFile} already has the id ${id} that the import gives ${display}`, {
        file: other.displayFile,
        hint: 'rename or move that file, or import into another component (--component)',
      })
    }
    planned.push({
      file: { id, file: display, checksum: checksumOf(text), write: existing === undefined },
      path,
      text,
      companions,
    })
    parent = migration.name
  }
  const names = new Set(history.migrations.map((migration) => migration.name))
  const last = history.migrations[history.migrations.length - 1]!.name
  const among = project.migrations.filter(
    (loaded) => loaded.component === component.name && !names.has(loaded.name) && loaded.name < last,
  )
  if (among.length > 0) {
    throw new FluxError(
      'USAGE',
      `${among[0]!.displayFile} would sort among the imported migrations (up to ${last}) in ${relative(process.cwd(), component.dir) || '.'}`,
      {
        file: among[0]!.displayFile,
        hint: 'import into a folder of its own: a component of this repository (--component), or an empty migrations folder',
      },
    )
  }
  return planned
}

/** The tool's ledger (its applied keys, checked to be a prefix of its order) and flux's, read together. */
async function readLedgers(
  adapter: Adapter,
  store: string,
  format: ImportFormat,
  history: ForeignHistory,
): Promise<{ foreign: ImportResult['ledger']; applied: string[]; flux: LedgerEntry[] }> {
  try {
    await adapter.open()
  } catch (error) {
    if (FluxError.is(error) && error.code === 'CONFIG_INVALID') throw error
    return { foreign: { unreachable: firstLine(messageOf(error)) }, applied: [], flux: [] }
  }
  try {
    let foreign: ForeignLedger | undefined
    let flux: LedgerEntry[]
    try {
      foreign = await format.readApplied(adapter.client(), history)
      flux = await adapter.ledger.read()
    } catch (error) {
      if (FluxError.is(error)) throw error
      throw new FluxError(
        'STORE_ERROR',
        `store "${store}": could not read the ledgers: ${firstLine(messageOf(error))}`,
        {
          store,
          cause: error,
        },
      )
    }
    if (!foreign) return { foreign: { absent: true }, applied: [], flux }
    const applied = new Set(foreign.applied)
    const keys = history.migrations.map((migration) => migration.key)
    const gap = keys.findIndex(
      (key, index) => !applied.has(key) && keys.slice(index + 1).some((later) => applied.has(later)),
    )
    if (gap !== -1) {
      const later = keys.slice(gap + 1).find((key) => applied.has(key))!
      throw new FluxError(
        'INTEGRITY',
        `${format.tool}'s ${foreign.table} records ${later} as applied but not ${keys[gap]}, which comes before it: nothing was imported`,
        {
          hint: `flux imports a history applied in order: apply ${keys[gap]} with ${format.tool} first (or move its files out of --from), then import again`,
        },
      )
    }
    return {
      foreign: { table: foreign.table, applied: applied.size },
      applied: keys.filter((key) => applied.has(key)),
      flux,
    }
  } finally {
    await adapter.close()
  }
}

async function readIfExists(path: string): Promise<string | undefined> {
  return readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined
    throw error
  })
}

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then(
    (found) => found.isDirectory(),
    () => false,
  )
}

function firstLine(text: string): string {
  return text.split('\n')[0]!
}
