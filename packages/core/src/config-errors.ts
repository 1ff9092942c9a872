import { readFileSync } from 'node:fs'
import { FluxError, messageOf } from './errors.ts'
import {
  ADAPTER_FACTORIES,
  locationOf,
  missingModuleError,
  missingModuleOf,
  projectFrame,
  withImporter,
} from './load-errors.ts'

/** An environment variable the config read while it was evaluated, and found unset or empty. */
export interface UnsetVariable {
  name: string
  empty: boolean
}

/**
 * Runs `load` (the config's import) with `process.env` watched: the variables it reads that
 * are not set, or empty, are recorded, so that a store whose URL comes from one can name it.
 * `process.env` is itself again afterwards, whatever happens.
 */
export async function watchingEnvironment<T>(load: () => Promise<T>, unset: UnsetVariable[]): Promise<T> {
  const real = process.env
  process.env = new Proxy(real, {
    get(target, key) {
      const value = Reflect.get(target, key)
      if (typeof key === 'string' && (value === undefined || value === '')) {
        if (!unset.some((variable) => variable.name === key)) unset.push({ name: key, empty: value === '' })
      }
      return value
    },
  })
  try {
    return await load()
  } finally {
    process.env = real
  }
}

/** What the config file's failure to load means for the user, as a FluxError. */
export function configLoadError(
  error: unknown,
  context: { configFile: string; displayConfig: string; root: string; cwd: string; unset: UnsetVariable[] },
): FluxError {
  const { configFile, displayConfig, root, cwd } = context
  const source = readSource(configFile)
  const reported = missingModuleOf(error)
  if (reported) {
    const missing = withImporter(reported, configFile, root)
    const stores =
      missing.isPackage && (missing.importer === undefined || missing.importer === configFile)
        ? storesMadeWith(source, factoriesFrom(source, missing.missing)).map((store) => store.name)
        : []
    const who = stores.length > 0 ? `${plural(stores, 'store')} ${stores.map(quote).join(', ')}` : displayConfig
    const { message, hint, location } = missingModuleError(missing, configFile, who, root, cwd)
    const verb = stores.length > 1 ? message.replace(' needs ', ' need ') : message
    return new FluxError('CONFIG_INVALID', verb, { file: displayConfig, hint, location, cause: error })
  }
  if (FluxError.is(error)) {
    if (error.store !== undefined) return error
    // an adapter's factory refused its options: name the store, and the variable behind a missing one
    const location = projectFrame(error, root, cwd)
    const store = location ? storeAt(source, location) : undefined
    if (!store) return error
    const missingOptions = (error.details?.missing as string[] | undefined) ?? []
    const call = source.slice(store.index, store.end)
    const inCall = context.unset.filter((variable) => readsIn(source, call, variable.name))
    if (missingOptions.length > 0 && inCall.length > 0) {
      const option = missingOptions.find((name) => new RegExp(`\\b${name}\\s*:`).test(call)) ?? missingOptions[0]!
      // those read for that option's value, where the call says (`url: process.env.DATABASE_URL`),
      // not those of its other options (`schema: process.env.APP_SCHEMA ?? 'app'`)
      const value = new RegExp(`\\b${option}\\s*:([^,}\\n]*)`).exec(call)?.[1]
      const forOption = value === undefined ? [] : inCall.filter((variable) => readsIn(source, value, variable.name))
      const variables = forOption.length > 0 ? forOption : inCall
      const read = variables.map((variable) => variable.name)
      const state = variables.every((variable) => variable.empty) ? 'empty' : 'not set'
      return new FluxError(
        'CONFIG_INVALID',
        `store "${store.name}": its ${option} is not set: ${displayConfig} reads environment ${plural(read, 'variable')} ${read.join(', ')}, which ${read.length > 1 ? 'are' : 'is'} ${state}`,
        {
          store: store.name,
          file: displayConfig,
          location,
          hint: `set it, e.g. export ${read[0]}=${EXAMPLE_VALUES[store.factory] ?? '…'}`,
          details: { ...error.details, variables: read },
          cause: error,
        },
      )
    }
    return new FluxError(error.code, `store "${store.name}": ${error.message}`, {
      store: store.name,
      file: displayConfig,
      location,
      hint: error.hint,
      details: error.details,
      cause: error,
    })
  }
  return new FluxError('CONFIG_INVALID', `${displayConfig} could not be loaded: ${firstLine(messageOf(error))}`, {
    file: displayConfig,
    location: locationOf(error, root, cwd, configFile),
    hint: 'fix the config file (run with --debug for the full error); nothing was changed',
    cause: error,
  })
}

/** The store's call reads the variable, itself or through a constant: `const url = process.env.MONGO_URL`. */
function readsIn(source: string, call: string, variable: string): boolean {
  if (new RegExp(`\\b${variable}\\b`).test(call)) return true
  const assignment = new RegExp(`\\b(?:const|let|var)\\s+([A-Za-z_$][\\w$]*)\\s*=[^;\\n]*\\b${variable}\\b`, 'g')
  return [...source.matchAll(assignment)].some((match) =>
    new RegExp(`(?<![\\w$.])${escapeRegExp(match[1]!)}\\b`).test(call),
  )
}

const EXAMPLE_VALUES: Record<string, string> = {
  pgStore: 'postgres://user:password@localhost:5432/app',
  mongoStore: 'mongodb://localhost:27017/app',
  redisStore: 'redis://localhost:6379',
  s3Store: 'my-bucket',
  fsStore: './var/files',
}

/** The names the config gives to what it imports from `name` (`pgStore`, `pg.pgStore`), or the adapter's factory. */
function factoriesFrom(source: string, name: string): string[] {
  const factories: string[] = []
  const pattern = new RegExp(`import\\s+(?:type\\s+)?([^;]*?)\\s+from\\s*['"]${escapeRegExp(name)}['"]`, 'g')
  for (const [, clause] of source.matchAll(pattern)) {
    for (const named of /\{([^}]*)\}/.exec(clause!)?.[1]?.split(',') ?? []) {
      const local = named
        .trim()
        .split(/\s+as\s+/)
        .pop()
      if (local && !local.startsWith('type ')) factories.push(escapeRegExp(local))
    }
    const namespace = /\*\s+as\s+([\w$]+)/.exec(clause!)?.[1]
    if (namespace) factories.push(`${escapeRegExp(namespace)}\\.${ADAPTER_FACTORIES[name] ?? '[\\w$]+'}`)
  }
  const known = ADAPTER_FACTORIES[name]
  if (known && !factories.includes(known)) factories.push(known)
  return factories
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
}

interface StoreCall {
  name: string
  factory: string
  /** Offset of the factory call in the source. */
  index: number
  /** Offset where the next store's call starts, or the end of the source. */
  end: number
}

/** The stores made with one of `factories` (patterns): `catalog: pgStore(` or `const catalog = pgStore(`. */
function storesMadeWith(source: string, factories: string[]): StoreCall[] {
  if (factories.length === 0) return []
  const alternatives = factories.join('|')
  const pattern = new RegExp(
    `(?:([A-Za-z_$][\\w$-]*|'[^']+'|"[^"]+")\\s*:|(?:const|let|var)\\s+([A-Za-z_$][\\w$]*)\\s*=)\\s*(${alternatives})\\s*\\(`,
    'g',
  )
  const calls = [...source.matchAll(pattern)].map((match) => ({
    name: (match[1] ?? match[2]!).replace(/^['"]|['"]$/g, ''),
    factory: match[3]!.split('.').pop()!,
    index: match.index + match[0].lastIndexOf(match[3]!),
    end: source.length,
  }))
  for (const [index, call] of calls.entries()) call.end = calls[index + 1]?.index ?? source.length
  return calls
}

/** The store whose factory call holds a `file:line:column` of the config (the frame of the factory's throw). */
function storeAt(source: string, location: string): StoreCall | undefined {
  const match = /:(\d+):(\d+)$/.exec(location)
  if (!match) return undefined
  const lines = source.split('\n')
  const offset =
    lines.slice(0, Number(match[1]) - 1).reduce((sum, line) => sum + line.length + 1, 0) + Number(match[2]) - 1
  const calls = storesMadeWith(source, ['[A-Za-z_$][\\w$]*Store', '[A-Za-z_$][\\w$]*\\.[A-Za-z_$][\\w$]*Store'])
  return calls.findLast((call) => call.index <= offset + 1 && offset < call.end)
}

function readSource(file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return ''
  }
}

function plural(items: readonly unknown[], word: string): string {
  return items.length > 1 ? `${word}s` : word
}

function quote(name: string): string {
  return `"${name}"`
}

function firstLine(text: string): string {
  return text.split('\n').find((line) => line.trim() !== '') ?? text
}
