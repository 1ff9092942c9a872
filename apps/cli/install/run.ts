// Running a command of the install test as a shell would, bounded in time: each runs in a
// process group of its own, killed whole (by its pid) when it overruns.
import { spawn } from 'node:child_process'
import { delimiter, dirname, join, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The workspace's root folder. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')

export interface RunResult {
  /** null when it was killed for overrunning */
  code: number | null
  stdout: string
  stderr: string
}

export interface RunOptions {
  cwd: string
  /** added to the environment, after the package manager's own `npm_*` variables are removed */
  env?: Record<string, string | undefined>
  timeoutMs?: number
}

/**
 * The environment a user's shell would give: ours without what `pnpm run` and vitest add for
 * their scripts (`npm_*` variables, `npm_config_registry` among them, the workspace's
 * `node_modules/.bin` folders on `PATH`, `VITEST*`, `NODE_ENV`), without the tests' `FLUX_*`
 * settings, and without colours.
 */
export function userEnvironment(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(npm_|pnpm_|VITEST|FLUX_)|^(INIT_CWD|NODE_ENV|FORCE_COLOR)$/i.test(name)) env[name] = value
  }
  env.PATH = (process.env.PATH ?? '')
    .split(delimiter)
    .filter((folder) => folder !== ROOT && !folder.startsWith(`${ROOT}${sep}`))
    .join(delimiter)
  env.NO_COLOR = '1'
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete env[name]
    else env[name] = value
  }
  return env
}

/** Runs `command args…`, its output collected; kills its process group after `timeoutMs`. */
export function run(command: string, args: string[], options: RunOptions): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? 60_000
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: userEnvironment(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => {
    stdout += chunk
  })
  child.stderr.on('data', (chunk) => {
    stderr += chunk
  })
  let overran = false
  const timer = setTimeout(() => {
    overran = true
    try {
      process.kill(-child.pid!, 'SIGKILL')
    } catch (error) {
      // the group may have ended on its own meanwhile
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error
    }
  }, timeoutMs)
  return new Promise((resolve, reject) => {
    child.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      if (overran) stderr += `\n[install test: killed after ${timeoutMs / 1000}s]\n`
      resolve({ code: overran ? null : code, stdout, stderr })
    })
  })
}

/** Runs one line of a README's ```sh block with `sh -c`, as a user pasting it would. */
export function shell(line: string, options: RunOptions): Promise<RunResult> {
  return run('sh', ['-c', line], options)
}
