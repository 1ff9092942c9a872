// What ./scripts/demo runs once the servers are up: every release in order, each `flux up`
// timed, `flux status` and `flux graph` between releases, then the site.
//   node story/demo.ts [--release N] [--fresh] [--no-site]
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { hotelRows, itineraryRows, reviewRows } from '../seed/catalog.ts'
import { sizesOf } from '../seed/sizes.ts'
import { applyRelease, DEMO_DIR, demoEnv, releases, runFlux } from './releases.ts'

const { values } = parseArgs({
  options: {
    release: { type: 'string', default: String(releases.length) },
    fresh: { type: 'boolean', default: false },
    'no-site': { type: 'boolean', default: false },
  },
})
const last = Number(values.release)
if (!Number.isInteger(last) || last < 1 || last > releases.length) {
  console.error(`error: --release takes 1 to ${releases.length}, got "${values.release}"`)
  process.exit(2)
}

const embedded = Boolean(process.env.DEMO_PGLITE)
const env: Record<string, string> = {
  ...demoEnv(),
  DEMO_PG_SCHEMA: process.env.DEMO_PG_SCHEMA ?? 'travel',
  DEMO_REDIS_PREFIX: process.env.DEMO_REDIS_PREFIX ?? 'travel',
  DEMO_MONGO_DB: process.env.DEMO_MONGO_DB ?? 'travel',
  DEMO_S3_PREFIX: process.env.DEMO_S3_PREFIX ?? 'travel/',
  DEMO_PHOTOS_DIR: process.env.DEMO_PHOTOS_DIR ?? join(DEMO_DIR, 'var/photos'),
}

const heading = (text: string) => console.log(`\n\x1b[1m${text}\x1b[0m`)

if (values.fresh) {
  heading('--fresh: removing the demo data of an earlier run')
  if (embedded) {
    const { rm } = await import('node:fs/promises')
    await rm(join(DEMO_DIR, 'var'), { recursive: true, force: true })
  } else {
    const { dropStores } = await import('./testing.ts')
    await dropStores(env)
  }
}

const timings: string[] = []
for (const release of releases.filter((candidate) => candidate.number <= last)) {
  heading(`── release ${release.number}: ${release.title} ──`)
  console.log(release.summary)
  console.log(`$ DEMO_RELEASE=${release.number} flux up ${release.target}`)
  const started = performance.now()
  const code = await applyRelease(release.number, { env })
  const seconds = ((performance.now() - started) / 1000).toFixed(1)
  if (code !== 0) {
    console.error(`release ${release.number}: flux up failed (exit ${code}) after ${seconds} s`)
    process.exit(code)
  }
  timings.push(`release ${release.number} (${release.title}): flux up took ${seconds} s`)
  console.log(`release ${release.number}: flux up took ${seconds} s`)
  const releaseEnv = { ...env, DEMO_RELEASE: String(release.number) }
  heading(`$ DEMO_RELEASE=${release.number} flux status`)
  await runFlux(['status'], { env: releaseEnv })
  heading(`$ DEMO_RELEASE=${release.number} flux graph`)
  await runFlux(['graph'], { env: releaseEnv })
}

heading('── the story so far ──')
for (const line of timings) console.log(line)
const sizes = sizesOf()
const { itineraries, stops } = itineraryRows(sizes)
const photos = sizes.destinations * sizes.photosPerDestination + sizes.hotels * sizes.photosPerHotel
const reviews = reviewRows(sizes, hotelRows(sizes)).length
if (embedded)
  console.log(
    'embedded (DEMO_PGLITE): PostgreSQL in PGlite and the photos directory; Redis, MongoDB and S3 are retired',
  )
else {
  if (last >= 3)
    console.log(
      `moved to MongoDB: ${reviews} reviews and ${itineraries.length} itineraries with ${stops.length} stops (${reviews + itineraries.length + stops.length} pg rows)`,
    )
  if (last >= 4) console.log(`moved to S3: ${photos} photos`)
}

const main = join(DEMO_DIR, 'site/main.ts')
if (values['no-site']) process.exit(0)
if (!existsSync(main)) {
  console.log('\nthe site (site/main.ts) is not there yet: nothing to start')
  process.exit(0)
}
heading('── the site ── (Ctrl-C stops it)')
const site = spawn(process.execPath, [main], {
  cwd: DEMO_DIR,
  env: { ...process.env, ...env, DEMO_RELEASE: String(last) },
  stdio: 'inherit',
})
// Ctrl-C reaches the site too (same process group): wait for it to stop
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => site.kill(signal))
site.on('exit', (code, signal) => process.exit(code ?? (signal ? 0 : 1)))
