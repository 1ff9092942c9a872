import { spawnSync } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

// Runs what scripts/demo runs, against a photo store in a temporary folder.
const demo = join(dirname(fileURLToPath(import.meta.url)), '..')
const fluxBin = join(demo, 'node_modules/@flux/cli/bin/flux.js')
let photos: string

beforeEach(async () => {
  photos = await mkdtemp(join(tmpdir(), 'flux-demo-'))
})
afterEach(() => rm(photos, { recursive: true, force: true }))

function flux(...args: string[]) {
  const result = spawnSync(process.execPath, [fluxBin, ...args], {
    cwd: demo,
    env: { ...process.env, DEMO_PHOTOS_DIR: photos },
    encoding: 'utf8',
  })
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}

describe('the demo travel site', () => {
  it('migrates its photo store up, verifies, and back down to nothing', async () => {
    expect(flux('status').stdout).toContain('3 migrations: 3 pending')
    const up = flux('up')
    expect(up.code, up.stderr).toBe(0)
    expect(up.stdout).toContain('wrote 3 manifests')
    expect(JSON.parse(await readFile(join(photos, 'hotels/kyoto-gion/manifest.json'), 'utf8'))).toEqual({
      hotel: 'kyoto-gion',
      photos: ['cover.jpg'],
    })
    expect(await readFile(join(photos, 'hotels/kyoto-gion/originals/cover.jpg'), 'utf8')).toBe(
      'placeholder cover for kyoto-gion\n',
    )
    expect(flux('verify').code).toBe(0)
    expect(flux('up').stdout).toContain('nothing to apply')
    const down = flux('down', 'base')
    expect(down.code, down.stderr).toBe(0)
    expect(flux('status', '--json').stdout).not.toContain('"applied"')
    const { readdir } = await import('node:fs/promises')
    expect((await readdir(photos)).filter((name) => name !== '.flux')).toEqual([])
  })
})
