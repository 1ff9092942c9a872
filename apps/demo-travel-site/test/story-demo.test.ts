import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { DEMO_DIR, demoEnv } from '../story/releases.ts'
import { dropStores, whenServers } from '../story/testing.ts'

// What ./scripts/demo runs after setting up and starting the servers (story/demo.ts), at a
// small scale, on the servers and on the embedded engines it falls back to without root.
const env = demoEnv({ isolation: `demo_${process.pid}`, scale: 0.02 })
let embedded: string | undefined

afterAll(async () => {
  if (whenServers()) await dropStores(env)
  if (embedded) await rm(embedded, { recursive: true, force: true })
})

function demo(args: string[], variables: Record<string, string>) {
  const child = spawn(process.execPath, ['story/demo.ts', ...args], {
    cwd: DEMO_DIR,
    env: { ...process.env, ...variables, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (chunk) => (output += chunk))
  child.stderr.on('data', (chunk) => (output += chunk))
  return new Promise<{ code: number | null; output: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, output })),
  )
}

describe.skipIf(!whenServers())('scripts/demo', () => {
  it('applies the releases one by one, timed, with status and graph after each, and stops at --release', async () => {
    const { code, output } = await demo(['--release', '2', '--fresh', '--no-site'], env)
    expect(code, output).toBe(0)
    expect(output).toContain('── release 1: PostgreSQL and photos on disk ──')
    expect(output).toContain('$ DEMO_RELEASE=1 flux up seed-photos')
    expect(output).toMatch(/release 1: flux up took \d+\.\d s/)
    expect(output).toMatch(/release 2: flux up took \d+\.\d s/)
    expect(output).not.toContain('release 3')
    expect(output).toContain('$ DEMO_RELEASE=2 flux status')
    expect(output).toContain('18 migrations: 11 applied, 7 pending')
    expect(output).toContain('$ DEMO_RELEASE=2 flux graph')
    expect(output).toContain('flowchart TD')
  })
})

describe('scripts/demo without servers (DEMO_PGLITE)', () => {
  it('runs on PGlite and the photos directory, the server stores retired', async () => {
    embedded = await mkdtemp(join(tmpdir(), 'travel-embedded-'))
    const { code, output } = await demo(['--release', '1', '--no-site'], {
      DEMO_PGLITE: join(embedded, 'pg'),
      DEMO_PHOTOS_DIR: join(embedded, 'photos'),
      DEMO_SCALE: '0.02',
    })
    expect(code, output).toBe(0)
    expect(output).toContain('catalog pg pglite')
    expect(output).toContain('saved 418 photos')
    expect(output).toMatch(/release 1: flux up took \d+\.\d s/)
    // every migration of visitors, trips and media, and those that use them
    expect(output).toContain('18 migrations: 9 applied, 7 retired, 2 pending')
    expect(output).toContain('Redis, MongoDB and S3 are retired')
  })
})
