// Global setup of the install test: a local registry (scripts/registry: verdaccio on 127.0.0.1)
// with the workspace released into it as a maintainer releases it, `changeset version` then
// `changeset publish`, in a copy of the workspace, so the checkout itself is never changed.
// The teardown stops that verdaccio (by its pid file) and deletes every folder made here.
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import type { TestProject } from 'vitest/node'
import { ROOT, run } from './run.ts'

/** What the tests get with `inject('registry')`. */
export interface Registry {
  /** `http://127.0.0.1:<port>/` */
  url: string
  /** The version of each package published there, by name. */
  published: Record<string, string>
}

declare module 'vitest' {
  export interface ProvidedContext {
    registry: Registry
  }
}

const PUBLISHED_DIRS = ['packages', 'apps']
/** Folders of caches and test runs, left out of the copy. */
const SCRATCH = new Set(['.turbo', '.flux-tmp'])
const CHANGESET = join(ROOT, 'node_modules', '@changesets', 'cli', 'bin.js')

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  for (const dir of ['packages/core', 'apps/cli']) {
    if (!existsSync(join(ROOT, dir, 'dist')))
      throw new Error(`${dir}/dist is missing: run \`pnpm test:install\`, which builds first`)
  }
  const work = mkdtempSync(join(tmpdir(), 'flux-install-'))
  const port = process.env.FLUX_REGISTRY_PORT || '4873'
  // where verdaccio is installed: the machine's cache, as scripts/registry finds it by itself
  const registryEnv = {
    FLUX_REGISTRY_PORT: port,
    FLUX_REGISTRY_DIR: join(work, 'registry'),
    FLUX_CACHE: process.env.FLUX_CACHE,
  }
  const teardown = async () => {
    await run(join(ROOT, 'scripts', 'registry'), ['stop'], { cwd: ROOT, env: registryEnv, timeoutMs: 30_000 })
    rmSync(work, { recursive: true, force: true })
  }
  try {
    const started = await run(join(ROOT, 'scripts', 'registry'), ['start'], {
      cwd: ROOT,
      env: registryEnv,
      timeoutMs: 180_000,
    })
    if (started.code !== 0) throw new Error(`scripts/registry start failed:\n${started.stderr}`)
    const variables = await run(join(ROOT, 'scripts', 'registry'), ['env'], { cwd: ROOT, env: registryEnv })
    const url = variables.stdout.match(/FLUX_REGISTRY_URL='([^']+)'/)?.[1]
    const token = variables.stdout.match(/FLUX_REGISTRY_TOKEN='([^']+)'/)?.[1]
    if (!url || !token) throw new Error(`scripts/registry env gave no URL or token:\n${variables.stdout}`)

    const copy = copyWorkspace(join(work, 'workspace'))
    // the token is for this registry only, and lives only in this run's folder
    const npmrc = join(work, 'publish.npmrc')
    writeFileSync(npmrc, `registry=${url}\n//${new URL(url).host}/:_authToken=${token}\n`, { mode: 0o600 })
    const env = { npm_config_registry: url, npm_config_userconfig: npmrc }
    const version = await run(process.execPath, [CHANGESET, 'version'], { cwd: copy, env, timeoutMs: 60_000 })
    if (version.code !== 0) throw new Error(`changeset version failed:\n${version.stdout}${version.stderr}`)
    const publish = await run(process.execPath, [CHANGESET, 'publish', '--no-git-tag'], {
      cwd: copy,
      env,
      timeoutMs: 180_000,
    })
    const published = publishedVersions(copy)
    if (publish.code !== 0) throw new Error(`changeset publish failed:\n${publish.stdout}${publish.stderr}`)
    for (const [name, at] of Object.entries(published)) {
      if (!publish.stdout.includes(`${name}@${at}`)) {
        throw new Error(`changeset publish did not publish ${name}@${at}:\n${publish.stdout}${publish.stderr}`)
      }
    }
    project.provide('registry', { url, published })
    return teardown
  } catch (error) {
    await teardown()
    throw error
  }
}

/**
 * The workspace as it is (built `dist/` included) without its root `node_modules` and `.git`:
 * the packages' own `node_modules` hold only links, kept as they are, to the copy's packages
 * and to the checkout's root `node_modules`, linked from the copy, which `changeset` and
 * `pnpm publish` only read.
 */
function copyWorkspace(copy: string): string {
  const skipped = new Set([join(ROOT, 'node_modules'), join(ROOT, '.git')])
  cpSync(ROOT, copy, {
    recursive: true,
    verbatimSymlinks: true,
    filter: (source) => !skipped.has(source) && !SCRATCH.has(basename(source)),
  })
  symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'))
  return copy
}

/** Every package `changeset publish` publishes: those not private, with their new versions. */
function publishedVersions(copy: string): Record<string, string> {
  const versions: Record<string, string> = {}
  for (const parent of PUBLISHED_DIRS) {
    for (const name of readdirSync(join(copy, parent))) {
      const file = join(copy, parent, name, 'package.json')
      if (!existsSync(file)) continue
      const manifest = JSON.parse(readFileSync(file, 'utf8'))
      if (!manifest.private) versions[manifest.name] = manifest.version
    }
  }
  return versions
}
