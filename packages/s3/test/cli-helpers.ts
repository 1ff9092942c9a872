import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { access, mkdir, rm, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll } from 'vitest'
import { CREDENTIALS_ENV, SECRET_ACCESS_KEY } from './s3-test-helpers.ts'

const PACKAGE = resolve(dirname(fileURLToPath(import.meta.url)), '..')
export const FLUX_BIN = join(PACKAGE, '..', '..', 'apps', 'cli', 'bin', 'flux.js')

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

export interface Result {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Starts the flux CLI with the S3 credentials in AWS_* variables only, as a deployment would. */
export function start(args: string[], cwd: string, env: Record<string, string> = {}): ChildProcess {
  const variables: NodeJS.ProcessEnv = { ...process.env, ...CREDENTIALS_ENV, NO_COLOR: '1', ...env }
  delete variables.FORCE_COLOR
  delete variables.FLUX_TEST_S3_ACCESS_KEY_ID
  delete variables.FLUX_TEST_S3_SECRET_ACCESS_KEY
  return spawn(process.execPath, [FLUX_BIN, ...args], { cwd, env: variables, stdio: ['ignore', 'pipe', 'pipe'] })
}

/** Waits for the CLI to end; fails if the secret access key shows up in anything it printed. */
export function finish(child: ChildProcess): Promise<Result> {
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (chunk) => {
    stdout += chunk
  })
  child.stderr!.on('data', (chunk) => {
    stderr += chunk
  })
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => {
      if (SECRET_ACCESS_KEY && `${stdout}${stderr}`.includes(SECRET_ACCESS_KEY)) {
        reject(new Error('the flux CLI printed the secret access key'))
      }
      resolve({ code, signal, stdout, stderr })
    })
  })
}

export function flux(args: string[], cwd: string, env: Record<string, string> = {}): Promise<Result> {
  return finish(start(args, cwd, env))
}

/** `flux status --json` rows as `[id, status]`. */
export async function statusOf(dir: string): Promise<[string, string][]> {
  const result = await flux(['status', '--json'], dir)
  if (result.code !== 0) throw new Error(`flux status failed (${result.code}): ${result.stderr}`)
  return JSON.parse(result.stdout).migrations.map((row: { id: string; status: string }) => [row.id, row.status])
}

/** Polls until `check` holds, failing after `timeoutMs`. */
export async function waitFor(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`)
    await sleep(20)
  }
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
