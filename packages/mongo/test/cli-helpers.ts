import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { access, mkdir, rm, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll } from 'vitest'

const PACKAGE = resolve(dirname(fileURLToPath(import.meta.url)), '..')
export const FLUX_BIN = join(PACKAGE, '..', '..', 'apps', 'cli', 'bin', 'flux.js')

/** Where test projects live: inside this package, so they import `@flux/mongo` by self-reference. */
export const TMP = join(PACKAGE, '.flux-tmp')

beforeAll(async () => {
  for (const built of [join(PACKAGE, 'dist', 'index.js'), join(dirname(FLUX_BIN), '..', 'dist', 'main.js')]) {
    await access(built).catch(() => {
      throw new Error(
        `${built} is missing: run \`pnpm --filter @flux/core --filter @flux/fs --filter @flux/cli --filter @flux/mongo build\``,
      )
    })
  }
})

const projects: string[] = []
afterAll(async () => {
  for (const dir of projects.splice(0)) await rm(dir, { recursive: true, force: true })
})

export interface Result {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** A project under `.flux-tmp/` with one store `reviews` (the given `mongoStore(…)` source) and these migrations. */
export async function project(store: string, migrations: Record<string, string>, lease = ''): Promise<string> {
  const dir = join(TMP, `project-${randomBytes(6).toString('hex')}`)
  projects.push(dir)
  await mkdir(join(dir, 'migrations'), { recursive: true })
  await writeFile(
    join(dir, 'flux.config.ts'),
    `import { defineConfig } from '@flux/core'
import { mongoStore } from '@flux/mongo'
export default defineConfig({
  stores: { reviews: ${store} },
  migrations: './migrations',${lease ? `\n  lease: ${lease},` : ''}
})
`,
  )
  for (const [name, source] of Object.entries(migrations)) await writeFile(join(dir, 'migrations', name), source)
  return dir
}

export function start(args: string[], cwd: string): ChildProcess {
  const variables: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' }
  delete variables.FORCE_COLOR
  return spawn(process.execPath, [FLUX_BIN, ...args], { cwd, env: variables, stdio: ['ignore', 'pipe', 'pipe'] })
}

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
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
}

export function flux(args: string[], cwd: string): Promise<Result> {
  return finish(start(args, cwd))
}

/** `flux status --json` rows as `[id, status]`. */
export async function statusOf(dir: string): Promise<[string, string][]> {
  const result = await flux(['status', '--json'], dir)
  if (result.code !== 0) throw new Error(`flux status failed (${result.code}): ${result.stderr}`)
  return JSON.parse(result.stdout).migrations.map((row: { id: string; status: string }) => [row.id, row.status])
}

/** Polls until `check` holds, failing after `timeoutMs`. */
export async function waitFor(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`)
    await sleep(20)
  }
}

export const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  )
