import { access } from 'node:fs/promises'
import { dirname, isAbsolute, join, relative, resolve } from 'node:path'
import type { Adapter, LedgerEntry, MigrationFileLoader } from './adapter.ts'
import { capabilitiesOf } from './adapter.ts'
import { requireFolders } from './component-folders.ts'
import { CONFIG_FILE_NAMES, type LeaseConfig, type ValidConfig, validateConfig } from './config.ts'
import { configLoadError, type UnsetVariable, watchingEnvironment } from './config-errors.ts'
import { discoverComponents } from './discover.ts'
import { FluxError } from './errors.ts'
import { assertFleetsStandApart, type Fleet, memberStore, PROTOTYPE_MEMBER } from './fleet/fleet.ts'
import { buildGraph, type Graph } from './graph/graph.ts'
import { type Component, type LoadedMigration, loadMigrations, type MigrationFileLoaders } from './load-migrations.ts'
import { assertLanguagesHaveStores, assertLoadersMatchStores } from './migration-languages.ts'
import { importModule, type ModuleImporter } from './module-loader.ts'
import type { StoreInfo } from './plan.ts'
import { closeStores, openStores, readLedgers } from './stores.ts'
import { assertSumsMatch } from './sum.ts'
import { unsetStoreError } from './unset-store.ts'

/** A loaded, validated project: config, components, migrations and their graph. Nothing is opened yet. */
export interface Project {
  /** Directory of the config file; relative paths in the config are resolved from it. */
  root: string
  configFile: string
  components: Component[]
  migrations: LoadedMigration[]
  graph: Graph
  adapters: Record<string, Adapter>
  stores: Record<string, StoreInfo>
  /** Loaders of migration files besides TypeScript and JavaScript, by extension, from the adapters. */
  loaders: MigrationFileLoaders
  lease: LeaseConfig
  /** Stores the application dropped; migrations that touch them are `retired`. */
  retired: string[]
  /**
   * Fleets of stores, by name (see {@link fleet}): their migrations run once in every member,
   * by {@link migrateFleets}; `migrate()` and the plan leave them out.
   */
  fleets?: Record<string, Fleet> | undefined
  /** Component packages the config disables. */
  ignoredComponents: string[]
  /**
   * With `prefetch`: every store opened, and its ledger read, while the migrations loaded.
   * The first `migrate()` takes it (and closes the stores when it ends).
   */
  prefetched?: Promise<Record<string, LedgerEntry[]>> | undefined
}

export interface LoadProjectOptions {
  /** Where to look for the config file. Default `process.cwd()`. */
  cwd?: string
  /** A config file given by the user (`--config`), relative to `cwd`. */
  configFile?: string
  /** Module import seam. */
  importer?: ModuleImporter
  /** Stop after the config: load no migrations, check no folder (for `flux unlock`). */
  configOnly?: boolean
  /**
   * The application's migrations folder may be missing, and then counts as empty (for
   * `flux new`, which creates it). Otherwise a missing migrations folder, the application's
   * or a component package's, is a configuration error. Default `false`.
   */
  allowMissingMigrations?: boolean
  /**
   * Refuse (`SUM_MISMATCH`, exit 3) a migrations folder that no longer matches its
   * `flux.sum`, before any migration file is imported (for `flux up` and `flux down`; see
   * `assertSumsMatch`). A folder without `flux.sum` is not checked. Default `false`.
   */
  checkSums?: boolean
  /**
   * Open the stores and read their ledgers while the migrations load, for a `migrate()` that
   * follows at once (connecting to a server overlaps reading a thousand files). The caller
   * must run `migrate()` on the project, or `closeStores()` its adapters. If loading fails,
   * the stores are closed before the error is thrown.
   */
  prefetch?: boolean
  /**
   * Load even when a store misses a setting it needs to be reached (an unset `DATABASE_URL`):
   * for commands that never open a store (`new`, `sum`, `heads`, `merge`, `graph`). Default
   * `false`: such a store is an error here, naming it and the variable.
   */
  unsetStoresAllowed?: boolean
}

/** Finds the config file: the one given, or the first of `CONFIG_FILE_NAMES` in `cwd`. */
export async function findConfigFile(cwd: string, given?: string): Promise<string> {
  if (given !== undefined) {
    const file = isAbsolute(given) ? given : resolve(cwd, given)
    if (!(await exists(file))) {
      throw new FluxError('CONFIG_NOT_FOUND', `config file ${given} does not exist`, {
        file: given,
        hint: 'check the path given to --config',
      })
    }
    return file
  }
  for (const name of CONFIG_FILE_NAMES) {
    const file = join(cwd, name)
    if (await exists(file)) return file
  }
  throw new FluxError('CONFIG_NOT_FOUND', `no flux.config.ts (or .mts, .js, .mjs) in ${cwd}`, {
    hint: 'run `flux init` to create one, or pass --config <file>',
  })
}

/** Loads config, components and migrations, and validates the graph. */
export async function loadProject(options: LoadProjectOptions = {}): Promise<Project> {
  const cwd = options.cwd ?? process.cwd()
  const importer = options.importer ?? importModule
  const configFile = await findConfigFile(cwd, options.configFile)
  const displayConfig = relative(cwd, configFile) || configFile
  let module: Record<string, unknown>
  const unset: UnsetVariable[] = []
  try {
    module = await watchingEnvironment(() => importer(configFile), unset)
  } catch (error) {
    throw configLoadError(error, { configFile, displayConfig, root: dirname(configFile), cwd, unset })
  }
  const config = validateConfig(module.default, displayConfig)
  if (!options.unsetStoresAllowed) {
    // the first in the config's order, as when its factory threw
    for (const adapter of Object.values(config.stores)) {
      const error = unsetStoreError(adapter)
      if (error) throw configLoadError(error, { configFile, displayConfig, root: dirname(configFile), cwd, unset })
    }
  }
  const names = Object.keys(config.stores).sort()
  let prefetched: Promise<Record<string, LedgerEntry[]>> | undefined
  if (options.prefetch && !options.configOnly) {
    prefetched = openStores(config.stores, names).then(() => readLedgers(config.stores, names))
    // its failure is migrate()'s to report, or is beside the point when loading fails
    prefetched.catch(() => {})
  }
  try {
    return { ...(await loadRest(config, configFile, cwd, importer, options)), prefetched }
  } catch (error) {
    if (prefetched) {
      await prefetched.catch(() => {})
      await closeStores(config.stores, names)
    }
    throw error
  }
}

async function loadRest(
  config: ValidConfig,
  configFile: string,
  cwd: string,
  importer: ModuleImporter,
  options: LoadProjectOptions,
): Promise<Project> {
  const root = dirname(configFile)
  const displayConfig = relative(cwd, configFile) || configFile
  // a fleet's store as made for a placeholder member, never opened: its kind and the files it reads
  const shapes: Record<string, Adapter> = { ...config.stores }
  for (const [name, fleet] of Object.entries(config.fleets)) shapes[name] = memberStore(name, fleet, PROTOTYPE_MEMBER)
  const { components, ignoredComponents } = await componentsOf({ ...config, stores: shapes }, root, displayConfig)
  const stores = storeInfoOf(config.stores)
  const loaders = new Map<string, MigrationFileLoader>()
  for (const adapter of Object.values(shapes)) {
    for (const extension of adapter.migrationFiles?.extensions ?? []) {
      if (!loaders.has(extension)) loaders.set(extension, adapter.migrationFiles!)
    }
  }
  if (!options.configOnly) {
    await requireFolders(components, cwd, displayConfig, options.allowMissingMigrations === true)
    if (options.checkSums) await assertSumsMatch(components, loaders.keys(), cwd)
    await assertLanguagesHaveStores(components, loaders, cwd)
  }
  const migrations = options.configOnly ? [] : await loadMigrations(components, importer, cwd, loaders)
  const graph = buildGraph(
    migrations,
    [...Object.keys(config.stores), ...Object.keys(config.fleets), ...config.retired],
    components,
    ignoredComponents,
  )
  assertLoadersMatchStores(graph, shapes, loaders)
  assertFleetsStandApart(graph, config.fleets)
  return {
    root,
    configFile,
    components,
    migrations,
    graph,
    adapters: config.stores,
    stores,
    loaders,
    lease: config.lease,
    retired: config.retired,
    fleets: config.fleets,
    ignoredComponents,
  }
}

/**
 * The migrations that `migrate()`, plans and status run and show: all but the fleets' (which
 * {@link migrateFleets} runs member by member, and nothing else depends on).
 */
export function nodesOutsideFleets(project: Pick<Project, 'graph' | 'fleets'>) {
  const fleets = Object.keys(project.fleets ?? {})
  return fleets.length === 0 ? project.graph.nodes : project.graph.nodes.filter((node) => !fleets.includes(node.store))
}

/**
 * What the planner needs to know of each store. Read again after the stores are opened:
 * some capabilities are known only then (MongoDB has transactions on a replica set only).
 */
export function storeInfoOf(adapters: Readonly<Record<string, Adapter>>): Record<string, StoreInfo> {
  const stores: Record<string, StoreInfo> = {}
  for (const [name, adapter] of Object.entries(adapters)) {
    stores[name] = { kind: adapter.kind, transactions: capabilitiesOf(adapter).transactions }
  }
  return stores
}

/**
 * The application's component, then every component package found among its dependencies
 * (sorted by name) with its roles bound to the application's stores. An unbound role, a
 * store of a kind the package does not accept, or a binding for a package that is not
 * installed is a configuration error: nothing runs.
 */
async function componentsOf(
  config: ValidConfig,
  root: string,
  configFile: string,
): Promise<{ components: Component[]; ignoredComponents: string[] }> {
  const components: Component[] = [
    { name: config.name, dir: resolve(root, config.migrations), allowBranches: config.allowBranches },
  ]
  const ignoredComponents: string[] = []
  const discovered = await discoverComponents(root)
  const fail = (key: string, message: string, hint: string): never => {
    throw new FluxError('CONFIG_INVALID', `${configFile}: ${message}`, { file: configFile, hint, details: { key } })
  }
  for (const name of Object.keys(config.components)) {
    if (!discovered.some((component) => component.name === name)) {
      fail(
        `components.${name}`,
        `\`components\` names ${name}, which is not among the dependencies with a "flux" field`,
        `install it (npm install ${name}) or remove it from \`components\``,
      )
    }
  }
  for (const found of discovered) {
    const settings = config.components[found.name] ?? {}
    if (settings.disabled) {
      ignoredComponents.push(found.name)
      continue
    }
    const bindings = settings.stores ?? {}
    const roles: Record<string, string> = {}
    for (const [role, kinds] of Object.entries(found.roles)) {
      const store = bindings[role]
      const example = `components: { '${found.name}': { stores: { ${role}: '<store>' } } }`
      if (store === undefined) {
        fail(
          `components.${found.name}.stores.${role}`,
          `component ${found.name} needs its role "${role}" bound to a store of kind ${kinds.join(' or ')}`,
          `bind it in the config: ${example}, or disable the component`,
        )
      }
      const kind = config.stores[store!]?.kind
      if (kind !== undefined && !kinds.includes(kind)) {
        fail(
          `components.${found.name}.stores.${role}`,
          `component ${found.name}: role "${role}" takes a store of kind ${kinds.join(' or ')}, but "${store}" is ${kind}`,
          `bind "${role}" to a ${kinds.join(' or ')} store`,
        )
      }
      roles[role] = store!
    }
    for (const role of Object.keys(bindings)) {
      if (!(role in found.roles)) {
        fail(
          `components.${found.name}.stores.${role}`,
          `component ${found.name} has no role "${role}" (its roles: ${Object.keys(found.roles).join(', ') || 'none'})`,
          'remove the binding, or check the role name',
        )
      }
    }
    components.push({
      name: found.name,
      dir: found.migrationsDir,
      roles,
      package: { name: found.name, version: found.version },
      allowBranches: settings.allowBranches ?? found.allowBranches,
    })
  }
  return { components, ignoredComponents }
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file)
    return true
  } catch {
    return false
  }
}
