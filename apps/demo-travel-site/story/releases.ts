// The travel site's story, release by release: what each release brought, the migration that
// ends it (its `flux up` target), and how to run it. scripts/demo, the tests and the site use it.
import { type StdioOptions, spawn } from 'node:child_process'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The app's folder, apps/demo-travel-site. */
export const DEMO_DIR = join(dirname(fileURLToPath(import.meta.url)), '..')
/** The `flux` command the demo runs (the workspace's built CLI). */
export const FLUX_BIN = join(DEMO_DIR, 'node_modules/@flux/cli/bin/flux.js')

export interface Release {
  number: number
  title: string
  summary: string
  /** The migration that ends the release: `flux up <target>` applies it and all it depends on. */
  target: string
}

export const releases: Release[] = [
  {
    number: 1,
    title: 'PostgreSQL and photos on disk',
    summary:
      'destinations, hotels and rooms in .sql migrations, the hotel_cards view (repeatable), the @travel/images ' +
      'component (image_photos in pg, PNGs in the photos directory), and a deterministic seed',
    target: 'seed-photos',
  },
  {
    number: 2,
    title: 'Visitors in Redis',
    summary: 'view counters backfilled from PostgreSQL, recently viewed hotels, search suggestions',
    target: 'search-suggestions',
  },
  {
    number: 3,
    title: 'Itineraries and reviews move to MongoDB',
    summary:
      'itineraries, itinerary_stops and reviews seeded in PostgreSQL, copied to MongoDB by two teams on two ' +
      'branches joined by flux merge, then dropped from PostgreSQL',
    target: 'drop-pg-trips',
  },
  {
    number: 4,
    title: 'Photos move to S3',
    summary:
      "the images component's blobs role is rebound from photos (fs) to media (s3), the photos are copied, " +
      'and the photos store is retired',
    target: 'photos-to-media',
  },
]

export interface ApplyOptions {
  /** Where to run flux. Default: the demo's folder. */
  cwd?: string
  /** Variables added to this process's environment (from {@link demoEnv}). */
  env?: Record<string, string | undefined>
  /** Default 'inherit': the progress goes to this terminal. */
  stdio?: StdioOptions
  /** Extra arguments for `flux up`, e.g. ['--json']. */
  args?: string[]
  /** Receives what flux writes (stdout and stderr), instead of `stdio`. */
  output?: (text: string) => void
}

/**
 * Applies release `n`: `flux up <its target>` with DEMO_RELEASE=n, resolving with the exit
 * code. Release 4 is two deploys: the first keeps the photos store configured
 * (DEMO_KEEP_PHOTOS=1) while the blobs are copied to media, the second retires it (`flux up`
 * then has nothing to do; it checks that the config without photos is sound).
 */
export async function applyRelease(n: number, options: ApplyOptions = {}): Promise<number> {
  const release = releases.find((candidate) => candidate.number === n)
  if (!release) throw new RangeError(`no release ${n}: the releases are 1 to ${releases.length}`)
  const env = { ...options.env, DEMO_RELEASE: String(n) }
  if (n < 4) return runFlux(['up', release.target, ...(options.args ?? [])], { ...options, env })
  const copied = await runFlux(['up', release.target, ...(options.args ?? [])], {
    ...options,
    env: { ...env, DEMO_KEEP_PHOTOS: '1' },
  })
  if (copied !== 0) return copied
  return runFlux(['up', ...(options.args ?? [])], { ...options, env: { ...env, DEMO_KEEP_PHOTOS: undefined } })
}

/** Runs the flux CLI in the demo's folder, resolving with its exit code. */
export function runFlux(args: string[], options: ApplyOptions = {}): Promise<number> {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[name]
    else env[name] = value
  }
  const child = spawn(process.execPath, [FLUX_BIN, ...args], {
    cwd: options.cwd ?? DEMO_DIR,
    env,
    stdio: options.output ? ['ignore', 'pipe', 'pipe'] : (options.stdio ?? 'inherit'),
  })
  if (options.output) {
    child.stdout?.on('data', (chunk) => options.output?.(String(chunk)))
    child.stderr?.on('data', (chunk) => options.output?.(String(chunk)))
  }
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => resolve(code ?? (signal === 'SIGINT' ? 130 : 143)))
  })
}

export interface DemoEnvOptions {
  /**
   * A name that keeps these stores apart from every other run's: it becomes the pg schema
   * (`travel_<isolation>`), the redis prefix, the mongo database, the s3 prefix and a photos
   * directory under the system's temporary folder. Default: the demo's own names (`travel`, ./var/photos).
   */
  isolation?: string
  /** DEMO_SCALE: 1 is the sizes (scripts/demo); tests use a few hundredths. */
  scale?: number
}

/**
 * The variables the config reads, from the `FLUX_TEST_*` ones that `scripts/services env`
 * prints (already set variables such as DATABASE_URL win), plus the isolation names.
 */
export function demoEnv(options: DemoEnvOptions = {}): Record<string, string> {
  const source = process.env
  const env: Record<string, string> = {}
  const map = (name: string, from: string) => {
    const value = source[name] ?? source[from]
    if (value !== undefined) env[name] = value
  }
  map('DATABASE_URL', 'FLUX_TEST_PG_URL')
  map('REDIS_URL', 'FLUX_TEST_REDIS_URL')
  map('MONGODB_URL', 'FLUX_TEST_MONGO_URL')
  map('S3_ENDPOINT', 'FLUX_TEST_S3_ENDPOINT')
  map('S3_BUCKET', 'FLUX_TEST_S3_BUCKET')
  map('AWS_REGION', 'FLUX_TEST_S3_REGION')
  map('AWS_ACCESS_KEY_ID', 'FLUX_TEST_S3_ACCESS_KEY_ID')
  map('AWS_SECRET_ACCESS_KEY', 'FLUX_TEST_S3_SECRET_ACCESS_KEY')
  if (options.scale !== undefined) env.DEMO_SCALE = String(options.scale)
  const name = options.isolation
  if (name !== undefined) {
    if (!/^[a-z0-9_]{1,40}$/.test(name)) throw new RangeError(`isolation must match [a-z0-9_]{1,40}, got "${name}"`)
    env.DEMO_PG_SCHEMA = `travel_${name}`
    env.DEMO_REDIS_PREFIX = `travel_${name}`
    env.DEMO_MONGO_DB = `travel_${name}`
    env.DEMO_S3_PREFIX = `travel_${name}/`
    env.DEMO_PHOTOS_DIR = join(tmpdir(), `travel_${name}`, 'photos')
  }
  return env
}
