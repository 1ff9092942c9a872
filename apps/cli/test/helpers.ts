import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach } from 'vitest'

export {
  exists,
  FLUX_BIN,
  finish,
  flux,
  type Result,
  start,
  statusRows as statusJson,
  waitFor,
} from './run-flux.ts'

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

export async function effects(dir: string): Promise<string[]> {
  try {
    return (await readFile(join(dir, 'effects.log'), 'utf8')).split('\n').filter(Boolean)
  } catch {
    return []
  }
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
