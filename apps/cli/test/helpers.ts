import { type ChildProcess, spawn } from 'node:child_process'
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach } from 'vitest'

export const FLUX_BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'flux.js')

export interface Result {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup()
})

/** A fresh, empty folder outside the repository (no node_modules: flux must work there). */
export async function emptyProject(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'flux-cli-'))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** A project with an fs store `files` at ./var/files and the given migration files. */
export async function project(migrations: Record<string, string>, config: { lease?: string } = {}): Promise<string> {
  const dir = await emptyProject()
  await writeFile(
    join(dir, 'flux.config.ts'),
    `import { defineConfig } from '@flux/core'
import { fsStore } from '@flux/fs'
export default defineConfig({
  stores: { files: fsStore({ root: './var/files' }) },
  migrations: './migrations',${config.lease ? `\n  lease: ${config.lease},` : ''}
})
`,
  )
  await mkdir(join(dir, 'migrations'))
  for (const [name, source] of Object.entries(migrations)) await writeFile(join(dir, 'migrations', name), source)
  return dir
}

/** A migration that appends its id to effects.log (outside the store) and puts a file in the store. */
export function countingMigration(name: string, extra = ''): string {
  return `import { appendFileSync } from 'node:fs'
import { defineMigration } from '@flux/core'
export default defineMigration({
  store: 'files',
  async up({ store }) {
    ${extra}
    appendFileSync(${JSON.stringify('effects.log')}, ${JSON.stringify(`${name}\n`)})
    await store.put(${JSON.stringify(`${name}.txt`)}, 'done')
  },
  async down({ store }) {
    await store.delete(${JSON.stringify(`${name}.txt`)})
  },
})
`
}

export function start(args: string[], cwd: string, env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [FLUX_BIN, ...args], {
    cwd,
    env: { ...process.env, NO_COLOR: '', FORCE_COLOR: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
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

export function flux(args: string[], cwd: string, env: Record<string, string> = {}): Promise<Result> {
  return finish(start(args, cwd, env))
}

export async function effects(dir: string): Promise<string[]> {
  try {
    return (await readFile(join(dir, 'effects.log'), 'utf8')).split('\n').filter(Boolean)
  } catch {
    return []
  }
}

/** Polls until `check` holds, failing after `timeoutMs`. */
export async function waitFor(
  check: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

export async function statusJson(dir: string): Promise<{ id: string; status: string }[]> {
  const result = await flux(['status', '--json'], dir)
  if (result.code !== 0) throw new Error(`flux status failed: ${result.stderr}`)
  return JSON.parse(result.stdout).migrations
}

/**
 * A migration that writes started.flag in the project folder, then waits until go.flag
 * appears: the test decides when it ends (or kills the runner while it waits).
 */
export function waitingMigration(name: string): string {
  return countingMigration(
    name,
    `const { existsSync, writeFileSync } = await import('node:fs')
    writeFileSync('started.flag', '')
    while (!existsSync('go.flag')) await new Promise((resolve) => setTimeout(resolve, 20))`,
  )
}

export function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  )
}
