import { randomBytes } from 'node:crypto'
import { access, mkdir, rm, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll } from 'vitest'
import { FLUX_BIN, statusRows } from '../../../apps/cli/test/run-flux.ts'

export { exists, finish, flux, type Result, start, waitFor } from '../../../apps/cli/test/run-flux.ts'

const PACKAGE = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/** Where test projects live: inside this package, so they import `@flux/redis` by self-reference. */
export const TMP = join(PACKAGE, '.flux-tmp')

beforeAll(async () => {
  for (const built of [join(PACKAGE, 'dist', 'index.js'), join(dirname(FLUX_BIN), '..', 'dist', 'main.js')]) {
    await access(built).catch(() => {
      throw new Error(
        `${built} is missing: run \`pnpm --filter @flux/core --filter @flux/cli --filter @flux/redis build\``,
      )
    })
  }
})

const projects: string[] = []
afterAll(async () => {
  for (const dir of projects.splice(0)) await rm(dir, { recursive: true, force: true })
})

/** A project under `.flux-tmp/` with one store `cache` (the given `redisStore(…)` source) and these migrations. */
export async function project(store: string, migrations: Record<string, string>, lease = ''): Promise<string> {
  const dir = join(TMP, `project-${randomBytes(6).toString('hex')}`)
  projects.push(dir)
  await mkdir(join(dir, 'migrations'), { recursive: true })
  await writeFile(
    join(dir, 'flux.config.ts'),
    `import { defineConfig } from '@flux/core'
import { redisStore } from '@flux/redis'
export default defineConfig({
  stores: { cache: ${store} },
  migrations: './migrations',${lease ? `\n  lease: ${lease},` : ''}
})
`,
  )
  for (const [name, source] of Object.entries(migrations)) await writeFile(join(dir, 'migrations', name), source)
  return dir
}

/** Registers a directory made by the test for deletion after the file. */
export function removeAfterAll(dir: string): string {
  projects.push(dir)
  return dir
}

/** `flux status --json` rows as `[id, status]`. */
export async function statusOf(dir: string, env: Record<string, string> = {}): Promise<[string, string][]> {
  return (await statusRows(dir, env)).map((row) => [row.id, row.status])
}
