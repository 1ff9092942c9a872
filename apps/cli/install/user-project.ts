// A user's project in a fresh folder outside the workspace, installing from the local registry
// the global setup published to, and the README's quickstart run in it line by line.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect, inject } from 'vitest'
import { commandOf } from './readme.ts'
import { type RunResult, run, shell } from './run.ts'

const folders: string[] = []
afterAll(async () => {
  for (const folder of folders.splice(0)) await rm(folder, { recursive: true, force: true })
})

export interface UserProject {
  dir: string
  /** The environment of every command: the registry, a fresh npm cache, no token. */
  env: Record<string, string>
}

/** An empty folder under the system's temporary folder, and npm settings for the local registry. */
export async function userProject(name: string): Promise<UserProject> {
  const home = await mkdtemp(join(tmpdir(), `flux-user-${name}-`))
  folders.push(home)
  const dir = join(home, name)
  await mkdir(dir)
  // npm's settings for this user: the registry, and nothing from the machine's ~/.npmrc
  const npmrc = join(home, '.npmrc')
  await writeFile(npmrc, '')
  return {
    dir,
    env: {
      npm_config_registry: inject('registry').url,
      npm_config_userconfig: npmrc,
      npm_config_cache: join(home, '.npm'),
      npm_config_audit: 'false',
      npm_config_fund: 'false',
      npm_config_update_notifier: 'false',
    },
  }
}

/** How long one line of the quickstart may take: an install fetches through the registry. */
const LINE_TIMEOUT_MS = 120_000

export interface QuickstartRun {
  /** What a user's terminal shows: each line, then what it printed. */
  transcript: string
  /** The result of each command, by the command (without its comment). */
  results: Map<string, RunResult>
  /** The migration `flux new` wrote, relative to the project. */
  migration: string
}

/**
 * Runs each line with `sh -c` in the project, as a user pasting them would, and expects each to
 * exit 0. Right after `flux new`, writes `up` and `down` into the new migration, as the user
 * the README speaks to does before `flux sum`.
 */
export async function runQuickstart(
  project: UserProject,
  lines: string[],
  body: { up: string; down: string },
  env: Record<string, string> = {},
): Promise<QuickstartRun> {
  let transcript = ''
  let migration: string | undefined
  const results = new Map<string, RunResult>()
  for (const line of lines) {
    const result = await shell(line, { cwd: project.dir, env: { ...project.env, ...env }, timeoutMs: LINE_TIMEOUT_MS })
    transcript += `$ ${line}\n${result.stdout}${result.stderr}`
    results.set(commandOf(line), result)
    expect(result.code, `\`${line}\` in ${project.dir}:\n${transcript}`).toBe(0)
    if (/^npx flux new\b/.test(commandOf(line))) {
      migration = await newestMigration(project.dir)
      const file = join(project.dir, migration)
      await writeFile(file, writeUpAndDown(await readFile(file, 'utf8'), body, migration))
      transcript += `(edited ${migration}: up() and down() written)\n`
    }
  }
  if (!migration) throw new Error('the quickstart never ran `npx flux new`')
  return { transcript, results, migration }
}

/** Runs one more command in the project, outside the quickstart. */
export function inProject(project: UserProject, command: string, args: string[]): Promise<RunResult> {
  return run(command, args, { cwd: project.dir, env: project.env, timeoutMs: LINE_TIMEOUT_MS })
}

async function newestMigration(dir: string): Promise<string> {
  const files = (await readdir(join(dir, 'migrations'))).filter((file) => /\.(c|m)?[jt]s$/.test(file)).sort()
  if (files.length === 0) throw new Error(`\`flux new\` wrote no migration into ${dir}/migrations`)
  return join('migrations', files.at(-1)!)
}

/** Puts `up` and `down` at the start of the template's `up({ store })` and `down({ store })` bodies. */
function writeUpAndDown(source: string, body: { up: string; down: string }, file: string): string {
  let edited = source
  for (const [method, code] of [
    ['up', body.up],
    ['down', body.down],
  ] as const) {
    const opening = new RegExp(`(\\b${method}\\s*\\(\\s*\\{[^}]*\\bstore\\b[^}]*\\}[^)]*\\)\\s*\\{)`)
    if (!opening.test(edited)) {
      throw new Error(`${file}, as \`flux new\` wrote it, has no \`${method}({ store }) {\` to write in:\n${source}`)
    }
    edited = edited.replace(opening, (opened) => `${opened}\n    ${code}`)
  }
  return edited
}
