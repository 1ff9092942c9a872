import type { Adapter } from './adapter.ts'
import { FluxError } from './errors.ts'
import { type Fleet, isFleet } from './fleet/fleet.ts'

/** Default migrations folder of the application, relative to the config file. */
export const DEFAULT_MIGRATIONS_DIR = './migrations'
/** Default component name of the application: the prefix of its migration ids (`app/…`). */
export const DEFAULT_APP_COMPONENT = 'app'
/** Config file names looked for in the working directory, in this order. */
export const CONFIG_FILE_NAMES = ['flux.config.ts', 'flux.config.mts', 'flux.config.js', 'flux.config.mjs'] as const

const STORE_NAME = /^[A-Za-z][A-Za-z0-9_-]*$/
const COMPONENT_NAME = /^(@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*$/

export interface LeaseConfig {
  /** Lifetime of a lease without renewal, in ms. Default `DEFAULT_LEASE_TTL_MS` (30 s). */
  ttlMs?: number
  /** How long to wait for a store someone else is migrating, in ms. Default 120 s. */
  waitMs?: number
}

/** How the application uses one component package: which of its stores plays each role. */
export interface ComponentConfig {
  /**
   * The application's store bound to each of the component's roles.
   * @example `{ blobs: 'photos', meta: 'catalog' }`
   */
  stores?: Record<string, string>
  /** Leave the component's migrations out: not run, not checked. Default `false`. */
  disabled?: boolean
  /** The component may have several heads (branches) without `verify` reporting it. Default `false`. */
  allowBranches?: boolean
}

export interface FluxConfig {
  /**
   * The stores of the application, by name; each value comes from an adapter's factory, or is
   * a {@link fleet} of many instances of one store.
   * @example `{ photos: fsStore({ root: './var/photos' }) }`
   */
  stores: Record<string, Adapter | Fleet>
  /** The application's migrations folder, relative to the config file. Default `./migrations`. */
  migrations?: string
  /** The application's component name, the prefix of its migration ids. Default `app`. */
  name?: string
  /** Lease timing. */
  lease?: LeaseConfig
  /**
   * Component packages among the dependencies (those whose package.json has a `"flux"`
   * field), by package name: their role bindings, or `disabled`.
   */
  components?: Record<string, ComponentConfig>
  /**
   * Stores the application has dropped (replaced by another). Migrations that touch them
   * count as satisfied and never run; `status` shows them as `retired`. They need no adapter.
   */
  retired?: string[]
  /** The application's own migrations may have several heads without `verify` reporting it. */
  allowBranches?: boolean
}

/** Declares the configuration; `flux.config.ts`'s default export. */
export function defineConfig(config: FluxConfig): FluxConfig {
  return config
}

const KNOWN_KEYS = new Set(['stores', 'migrations', 'name', 'lease', 'components', 'retired', 'allowBranches'])

export type ValidConfig = Required<Omit<FluxConfig, 'lease' | 'stores'>> & {
  lease: LeaseConfig
  /** The stores that are one instance each. */
  stores: Record<string, Adapter>
  /** The fleets among `stores`. */
  fleets: Record<string, Fleet>
}

/** Checks a loaded config, with errors that name the bad key and what was expected. */
export function validateConfig(value: unknown, file: string): ValidConfig {
  const fail = (key: string, expected: string, got?: unknown): never => {
    throw new FluxError(
      'CONFIG_INVALID',
      `${file}: \`${key}\` must be ${expected}${got === undefined ? '' : `, got ${show(got)}`}`,
      {
        file,
        hint: 'fix the config and run the command again; nothing was changed',
        details: { key },
      },
    )
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail('default export', 'an object made with defineConfig({ stores: { … } })', value)
  }
  const config = value as Record<string, unknown>
  for (const key of Object.keys(config)) {
    if (!KNOWN_KEYS.has(key)) fail(key, `one of the known keys (${[...KNOWN_KEYS].join(', ')}); remove or rename it`)
  }
  const stores = config.stores
  if (typeof stores !== 'object' || stores === null || Array.isArray(stores)) {
    fail('stores', 'an object of named stores, e.g. { photos: fsStore({ root: "./var/photos" }) }', stores)
  }
  const adapters: Record<string, Adapter> = {}
  const fleets: Record<string, Fleet> = {}
  for (const [name, adapter] of Object.entries(stores as Record<string, unknown>)) {
    if (!STORE_NAME.test(name)) fail(`stores.${name}`, 'named with letters, digits, "-" or "_", starting with a letter')
    if (isFleet(adapter)) {
      if (typeof adapter.members !== 'function' || typeof adapter.store !== 'function') {
        fail(`stores.${name}`, 'a fleet({ members, store }) whose members and store are functions', adapter)
      }
      fleets[name] = adapter
      continue
    }
    adapters[name] = adapter as Adapter
    if (!isAdapter(adapter)) {
      fail(`stores.${name}`, "a store made by an adapter's factory, e.g. fsStore({ root: './var/photos' })", adapter)
    }
    if ((adapter as Adapter).specVersion !== 'v1') {
      fail(
        `stores.${name}`,
        `an adapter of contract v1 (this one declares ${show((adapter as Adapter).specVersion)}); update the adapter or @flux/core`,
      )
    }
  }
  for (const [name, fleet] of Object.entries(fleets)) {
    if (fleet.board !== undefined && (typeof fleet.board !== 'string' || !Object.hasOwn(adapters, fleet.board))) {
      fail(
        `stores.${name}`,
        `a fleet whose board is one of the other stores (${Object.keys(adapters).join(', ') || 'there are none'})`,
        fleet.board,
      )
    }
  }
  if (config.migrations !== undefined && (typeof config.migrations !== 'string' || config.migrations === '')) {
    fail('migrations', 'the path of a folder, e.g. "./migrations"', config.migrations)
  }
  if (config.name !== undefined && (typeof config.name !== 'string' || !COMPONENT_NAME.test(config.name))) {
    fail('name', 'a component name such as "app" or "@travel/site"', config.name)
  }
  const lease = (config.lease ?? {}) as Record<string, unknown>
  if (typeof lease !== 'object' || lease === null) fail('lease', 'an object { ttlMs?, waitMs? }', lease)
  for (const key of ['ttlMs', 'waitMs'] as const) {
    const ms = lease[key]
    if (ms !== undefined && (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0)) {
      fail(`lease.${key}`, 'a number of milliseconds ≥ 0', ms)
    }
  }
  const retired = config.retired ?? []
  if (!Array.isArray(retired) || retired.some((name) => typeof name !== 'string' || !STORE_NAME.test(name))) {
    fail('retired', 'an array of store names', config.retired)
  }
  for (const name of retired as string[]) {
    if (name in (stores as object)) fail('retired', `stores that are no longer in \`stores\` ("${name}" is both)`)
  }
  const components = (config.components ?? {}) as Record<string, unknown>
  if (typeof components !== 'object' || components === null || Array.isArray(components)) {
    fail(
      'components',
      "an object of component packages, e.g. { '@travel/images': { stores: { blobs: 'photos' } } }",
      components,
    )
  }
  for (const [name, entry] of Object.entries(components)) {
    const key = `components.${name}`
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      fail(key, 'an object { stores?, disabled?, allowBranches? }', entry)
    }
    const { stores: bindings, disabled, allowBranches, ...rest } = entry as Record<string, unknown>
    for (const extra of Object.keys(rest))
      fail(`${key}.${extra}`, 'one of stores, disabled, allowBranches (unknown key)')
    if (disabled !== undefined && typeof disabled !== 'boolean') fail(`${key}.disabled`, 'true or false', disabled)
    if (allowBranches !== undefined && typeof allowBranches !== 'boolean') {
      fail(`${key}.allowBranches`, 'true or false', allowBranches)
    }
    if (bindings === undefined) continue
    if (typeof bindings !== 'object' || bindings === null || Array.isArray(bindings)) {
      fail(`${key}.stores`, 'an object binding each role to a store, e.g. { blobs: "photos" }', bindings)
    }
    for (const [role, store] of Object.entries(bindings as Record<string, unknown>)) {
      if (typeof store !== 'string' || !(store in (stores as object) || (retired as string[]).includes(store))) {
        const known = Object.keys(stores as object).join(', ') || 'none'
        fail(`${key}.stores.${role}`, `the name of a store in \`stores\` (${known})`, store)
      }
    }
  }
  if (config.allowBranches !== undefined && typeof config.allowBranches !== 'boolean') {
    fail('allowBranches', 'true or false', config.allowBranches)
  }
  if (Object.keys(stores as object).length === 0) {
    throw new FluxError('CONFIG_INVALID', `${file}: \`stores\` is empty; flux needs at least one store to migrate`, {
      file,
      hint: "add a store, e.g. stores: { files: fsStore({ root: './var/files' }) } (import { fsStore } from '@flux/fs')",
      details: { key: 'stores' },
    })
  }
  return {
    components: components as Record<string, ComponentConfig>,
    retired: retired as string[],
    allowBranches: config.allowBranches === true,
    stores: adapters,
    fleets,
    migrations: (config.migrations as string | undefined) ?? DEFAULT_MIGRATIONS_DIR,
    name: (config.name as string | undefined) ?? DEFAULT_APP_COMPONENT,
    lease: lease as LeaseConfig,
  }
}

function isAdapter(value: unknown): value is Adapter {
  if (typeof value !== 'object' || value === null) return false
  const adapter = value as Record<string, unknown>
  return (
    typeof adapter.kind === 'string' &&
    typeof adapter.open === 'function' &&
    typeof adapter.close === 'function' &&
    typeof adapter.describe === 'function' &&
    typeof adapter.client === 'function' &&
    typeof adapter.acquire === 'function' &&
    typeof adapter.ledger === 'object' &&
    adapter.ledger !== null
  )
}

function show(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'function') return 'a function'
  if (typeof value === 'object') return 'an object'
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
  return String(value)
}
