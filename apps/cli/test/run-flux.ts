// Running the built `flux` command from tests, as a user's shell would: the CLI's own tests
// and the adapters' (packages/*/test/cli-helpers.ts) use these.
import { type ChildProcess, spawn } from 'node:child_process'
import { access } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'

export const FLUX_BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'flux.js')

export interface Result {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Starts `flux <args>` in `cwd`, its output piped (so without colours), `env` added to ours. */
export function start(args: string[], cwd: string, env: Record<string, string> = {}): ChildProcess {
  const variables: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' }
  delete variables.FORCE_COLOR
  return spawn(process.execPath, [FLUX_BIN, ...args], {
    cwd,
    env: { ...variables, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

/** Waits for a process from `start()` to end, with everything it wrote. */
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

/** `flux status --json` in `dir`: its migrations' rows. */
export async function statusRows(
  dir: string,
  env: Record<string, string> = {},
): Promise<{ id: string; status: string }[]> {
  const result = await flux(['status', '--json'], dir, env)
  if (result.code !== 0) throw new Error(`flux status failed (${result.code}): ${result.stderr}`)
  return JSON.parse(result.stdout).migrations
}

/** Polls until `check` holds, failing after `timeoutMs`. */
export async function waitFor(
  check: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`)
    await sleep(20)
  }
}

export function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  )
}
