import { FluxError, migrate } from '@flux/core'
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { pgStore } from '../src/index.ts'
import { testProject } from './pg-project.ts'
import { describeWithServer, PASSWORD, UNREACHABLE_URL } from './pg-test-helpers.ts'

const WRONG_PASSWORD = 'not-the-flux-password-7f3a'

/** Everything of an error a user or a log could see. */
function visible(error: FluxError): string {
  return [error.message, error.hint, error.stack, JSON.stringify(error), String((error.cause as Error)?.stack)].join(
    '\n',
  )
}

async function openError(adapter: ReturnType<typeof pgStore>): Promise<FluxError> {
  try {
    await adapter.open()
  } catch (error) {
    await adapter.close()
    if (FluxError.is(error)) return error
    throw error
  }
  await adapter.close()
  throw new Error('expected open() to fail')
}

describeWithServer('no password in what flux shows', (url) => {
  const server = new URL(url)
  const withUrl = (change: Partial<Pick<URL, 'password' | 'pathname'>>) =>
    Object.assign(new URL(url), change).toString()
  const cases = [
    ['bad password', withUrl({ password: WRONG_PASSWORD })],
    ['connection refused', UNREACHABLE_URL],
    ['unknown database', withUrl({ pathname: '/flux_no_such_database' })],
  ] as const

  for (const [reason, target] of cases) {
    it(`open() fails with STORE_UNAVAILABLE saying "${reason}", showing the target and no password`, async () => {
      const adapter = pgStore({ url: target })
      const description = adapter.describe()
      expect(description).toMatch(/^pg 127\.0\.0\.1:\d+\/flux_/)
      const error = await openError(adapter)
      expect(error.code).toBe('STORE_UNAVAILABLE')
      expect(error.message).toContain(`cannot open ${description}: ${reason}`)
      for (const secret of [PASSWORD, WRONG_PASSWORD, target, `${server.username}:`]) {
        expect(visible(error)).not.toContain(secret)
        expect(description).not.toContain(secret)
      }
    })
  }

  it('the error of a whole run (through core) shows no password either, also in --json form', async () => {
    const target = withUrl({ password: WRONG_PASSWORD })
    const migration = { name: '0001_x', sql: '-- flux:store catalog\n-- flux:up\nselect 1;' }
    const error = await migrate(testProject({ catalog: pgStore({ url: target }) }, [migration]), {
      direction: 'up',
    }).then(
      () => undefined,
      (thrown: unknown) => thrown,
    )
    expect(FluxError.is(error) && error.code).toBe('STORE_UNAVAILABLE')
    const text = visible(error as FluxError)
    expect(text).toContain('store "catalog": cannot open pg 127.0.0.1:')
    expect(text).not.toContain(WRONG_PASSWORD)
  })

  it("a user's own pool is described from its options without the password, and never ended", async () => {
    const pool = new pg.Pool({
      host: server.hostname,
      port: Number(server.port),
      database: 'flux_test',
      user: server.username,
      password: WRONG_PASSWORD,
    })
    try {
      const adapter = pgStore({ pool })
      expect(adapter.describe()).toBe(`pg ${server.hostname}:${server.port}/flux_test`)
      const error = await openError(adapter)
      expect(error.message).toContain('bad password')
      expect(visible(error)).not.toContain(WRONG_PASSWORD)
      expect(pool.ending).toBe(false)
    } finally {
      await pool.end()
    }
  })
})

describe('PGlite', () => {
  it('open() of a data directory that is a file fails with STORE_UNAVAILABLE naming it', async () => {
    const file = new URL(import.meta.url).pathname
    const error = await openError(pgStore({ pglite: file }))
    expect(error.code).toBe('STORE_UNAVAILABLE')
    expect(error.message).toContain(`cannot open pg pglite ${file}`)
  })
})
