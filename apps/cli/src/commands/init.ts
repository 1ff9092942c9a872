import { access, mkdir, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { CONFIG_FILE_NAMES, FluxError, writeSum } from '@flux/core'
import type { CommandInput } from '../command.ts'

export const usage = 'flux init [--store <name>] [--root <dir>]'
export const description = `Creates flux.config.ts and an empty migrations/ folder (with its flux.sum) in the
current folder. The config has one store on the local filesystem — the embedded default,
nothing to install — which you can replace or join with PostgreSQL, MongoDB, Redis or S3.`
export const maxPositionals = 0
export const options = {
  store: { type: 'string', value: 'name', description: 'name of the filesystem store (default: files)' },
  root: { type: 'string', value: 'dir', description: "the store's directory (default: ./var/<name>)" },
} as const
export const examples = ['flux init', 'flux init --store photos --root ./var/photos']

export async function run({ values, output }: CommandInput): Promise<number> {
  const cwd = process.cwd()
  const store = typeof values.store === 'string' ? values.store : 'files'
  if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(store)) {
    throw new FluxError('USAGE', `bad store name "${store}"`, {
      hint: 'use letters, digits, "-" or "_", starting with a letter',
    })
  }
  const root = typeof values.root === 'string' ? values.root : `./var/${store}`
  for (const name of CONFIG_FILE_NAMES) {
    if (await exists(join(cwd, name))) {
      throw new FluxError('USAGE', `${name} already exists in ${cwd}`, {
        hint: 'edit it, or run `flux init` in another folder',
      })
    }
  }
  const configFile = join(cwd, 'flux.config.ts')
  await writeFile(
    configFile,
    `import { defineConfig } from '@flux/core'
import { fsStore } from '@flux/fs'

export default defineConfig({
  stores: {
    // a directory on the local filesystem; add pgStore, mongoStore, redisStore, s3Store… beside it
    ${store}: fsStore({ root: ${JSON.stringify(root)} }),
  },
  migrations: './migrations',
})
`,
    { flag: 'wx' },
  )
  const migrations = join(cwd, 'migrations')
  await mkdir(migrations, { recursive: true })
  const sum = await writeSum(migrations)
  output.line(`created ${relative(cwd, configFile)}`)
  output.line(`created ${relative(cwd, sum)}`)
  output.line(
    `next: ${output.paint.bold('flux new <name>')} to write a migration, then ${output.paint.bold('flux up')}`,
  )
  return 0
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file)
    return true
  } catch {
    return false
  }
}
