import { randomBytes } from 'node:crypto'
import { access, mkdir, rm, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll } from 'vitest'
import { FLUX_BIN, statusRows } from '../../../apps/cli/test/run-flux.ts'

export { exists, finish, flux, type Result, start, waitFor } from '../../../apps/cli/test/run-flux.ts'

const PACKAGE = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/** Where test projects live: inside this package, so they import `@flux/s3` by self-reference. */
export const TMP = join(PACKAGE, '.flux-tmp')

beforeAll(async () => {
  for (const built of [join(PACKAGE, 'dist', 'index.js'), join(dirname(FLUX_BIN), '..', 'dist', 'main.js')]) {
    await access(built).catch(() => {
      throw new Error(
        `${built} is missing: run \`pnpm --filter @flux/core --filter @flux/fs --filter @flux/cli --filter @flux/s3 build\``,
      )
    })
  }
})

const projects: string[] = []
afterAll(async () => {
  for (const dir of projects.splice(0)) await rm(dir, { recursive: true, force: true })
})

/** `s3Store(…)` as a user writes it: credentials from the environment, the endpoint from an env var. */
export const s3StoreSource = (prefix: string) =>
  `s3Store({ bucket: process.env.FLUX_TEST_S3_BUCKET, prefix: ${JSON.stringify(prefix)}, endpoint: process.env.FLUX_TEST_S3_ENDPOINT, forcePathStyle: true })`

/** A project under `.flux-tmp/` with these stores (name → factory source) and migration files. */
export async function project(stores: Record<string, string>, files: Record<string, string>): Promise<string> {
  const dir = join(TMP, `project-${randomBytes(6).toString('hex')}`)
  projects.push(dir)
  await mkdir(join(dir, 'migrations'), { recursive: true })
  const entries = Object.entries(stores).map(([name, source]) => `    ${name}: ${source},`)
  await writeFile(
    join(dir, 'flux.config.ts'),
    `import { defineConfig } from '@flux/core'
import { fsStore } from '@flux/fs'
import { s3Store } from '@flux/s3'
export default defineConfig({
  stores: {
${entries.join('\n')}
  },
  migrations: './migrations',
})
`,
  )
  for (const [name, source] of Object.entries(files)) {
    await mkdir(dirname(join(dir, name)), { recursive: true })
    await writeFile(join(dir, name), source)
  }
  return dir
}

/** `flux status --json` rows as `[id, status]`. */
export async function statusOf(dir: string): Promise<[string, string][]> {
  return (await statusRows(dir)).map((row) => [row.id, row.status])
}

/**
 * `lib/pool.ts` for test projects: runs `task` over `items`, `width` at a time. Migrations
 * import it; it is not in `migrations/`, so it is not a migration itself.
 */
export const POOL_SOURCE = `export async function pool<T>(items: T[], width: number, task: (item: T) => Promise<unknown>) {
  let next = 0
  const worker = async () => {
    while (next < items.length) await task(items[next++]!)
  }
  await Promise.all(Array.from({ length: width }, worker))
}
`
