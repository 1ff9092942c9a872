import { readFileSync, realpathSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { DEFAULT_MIGRATIONS_DIR } from './config.ts'
import { FluxError } from './errors.ts'

/** The `"flux"` field of a component package's package.json. */
export interface FluxPackageField {
  /** Its migrations folder, relative to the package. Default `./migrations`. */
  migrations?: string
  /** Its roles, each with the store kinds it accepts: `{ "blobs": ["fs", "s3"], "meta": ["pg"] }`. */
  stores?: Record<string, string[]>
  /** It may have several heads. Default `false`. */
  allowBranches?: boolean
}

/** A component package found among the application's dependencies. */
export interface PackageComponent {
  name: string
  version: string
  /** Absolute, real path of the package. */
  packageDir: string
  /** Absolute path of its migrations folder. */
  migrationsDir: string
  /** Role → store kinds it accepts. */
  roles: Record<string, string[]>
  allowBranches: boolean
}

const DEPENDENCY_FIELDS = ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies'] as const

/**
 * Finds every component package of the application: its dependencies whose package.json
 * has a `"flux"` field, and, through those, their own dependencies that are components.
 * Looks packages up the way Node resolves them (`node_modules` folders from the package
 * up to the root, through pnpm's and workspaces' links), so it reads only the package.json
 * files of declared dependencies: no walk of all of node_modules. Sorted by name.
 */
export async function discoverComponents(appDir: string): Promise<PackageComponent[]> {
  const appManifest = findManifest(appDir)
  if (!appManifest) return []
  const found = new Map<string, PackageComponent>()
  const queue: { manifest: Record<string, unknown>; dir: string }[] = [appManifest]
  const seen = new Set<string>()
  while (queue.length > 0) {
    const { manifest, dir } = queue.shift()!
    for (const name of dependencyNames(manifest)) {
      const key = `${dir}\0${name}`
      if (seen.has(key)) continue
      seen.add(key)
      const installed = findInstalled(name, dir)
      if (!installed || installed.manifest.flux === undefined || found.has(name)) continue
      found.set(name, toComponent(name, installed.manifest, installed.dir))
      queue.push(installed)
    }
  }
  return [...found.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
}

function dependencyNames(manifest: Record<string, unknown>): string[] {
  const names = new Set<string>()
  for (const field of DEPENDENCY_FIELDS) {
    const dependencies = manifest[field]
    if (typeof dependencies === 'object' && dependencies !== null)
      for (const name of Object.keys(dependencies)) names.add(name)
  }
  return [...names].sort()
}

/** The nearest package.json at or above `dir`. */
function findManifest(dir: string): { manifest: Record<string, unknown>; dir: string } | undefined {
  for (let current = resolve(dir); ; current = dirname(current)) {
    const manifest = readManifest(join(current, 'package.json'))
    if (manifest) return { manifest, dir: current }
    if (dirname(current) === current) return undefined
  }
}

/** `<dir or an ancestor>/node_modules/<name>`, as Node would resolve it, with its real path. */
function findInstalled(name: string, fromDir: string): { manifest: Record<string, unknown>; dir: string } | undefined {
  for (let current = fromDir; ; current = dirname(current)) {
    const candidate = join(current, 'node_modules', name)
    const manifest = readManifest(join(candidate, 'package.json'))
    if (manifest) return { manifest, dir: realpathSync(candidate) }
    if (dirname(current) === current) return undefined
  }
}

/** Read synchronously: a few small files, each read costing a fraction of a thread-pool round trip. */
function readManifest(file: string): Record<string, unknown> | undefined {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    return undefined
  }
  try {
    return JSON.parse(text) as Record<string, unknown>
  } catch (error) {
    throw new FluxError('CONFIG_INVALID', `${file} is not valid JSON`, { file, cause: error })
  }
}

function toComponent(name: string, manifest: Record<string, unknown>, packageDir: string): PackageComponent {
  const file = join(packageDir, 'package.json')
  const bad = (key: string, expected: string): never => {
    throw new FluxError(
      'CONFIG_INVALID',
      `component ${name}: \`flux.${key}\` in its package.json must be ${expected}`,
      {
        file,
        hint: `the package's "flux" field is { "migrations": "./migrations", "stores": { "<role>": ["<kind>", …] } }; report it to the package's authors`,
      },
    )
  }
  const field = manifest.flux as FluxPackageField
  if (typeof field !== 'object' || field === null || Array.isArray(field)) bad('', 'an object')
  if (field.migrations !== undefined && typeof field.migrations !== 'string') bad('migrations', 'a folder path')
  const roles = field.stores ?? {}
  if (typeof roles !== 'object' || roles === null || Array.isArray(roles)) bad('stores', 'an object of roles')
  for (const [role, kinds] of Object.entries(roles)) {
    if (!Array.isArray(kinds) || kinds.length === 0 || kinds.some((kind) => typeof kind !== 'string')) {
      bad(`stores.${role}`, 'a non-empty array of store kinds, e.g. ["fs", "s3"]')
    }
  }
  if (field.allowBranches !== undefined && typeof field.allowBranches !== 'boolean')
    bad('allowBranches', 'true or false')
  return {
    name,
    version: typeof manifest.version === 'string' ? manifest.version : '0.0.0',
    packageDir,
    migrationsDir: resolve(packageDir, field.migrations ?? DEFAULT_MIGRATIONS_DIR),
    roles,
    allowBranches: field.allowBranches === true,
  }
}
