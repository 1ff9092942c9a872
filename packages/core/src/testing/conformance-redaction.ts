import { type BlobStore, capabilitiesOf } from '../adapter.ts'
import type { FluxError } from '../errors.ts'
import type { ConformanceTest } from './conformance-harness.ts'
import { expectFluxError, STORE_NAME, testHolder } from './conformance-harness.ts'
import type { ConformanceOptions } from './conformance-options.ts'
import { expect } from './vitest.ts'

/** Fails naming where a secret shows up in `text` (without printing the secret). */
export function expectNoSecret(secrets: string[], where: string, text: string | undefined): void {
  for (const [index, secret] of secrets.entries()) {
    if (secret === '' || text === undefined) continue
    expect(text.includes(secret), `secret #${index + 1} appears in ${where}`).toBe(false)
  }
}

function expectErrorWithoutSecret(secrets: string[], what: string, error: FluxError): void {
  expectNoSecret(secrets, `the message of ${what}`, error.message)
  expectNoSecret(secrets, `the hint of ${what}`, error.hint)
  expectNoSecret(secrets, `the JSON of ${what}`, JSON.stringify(error))
  expectNoSecret(secrets, `the stack of ${what}`, error.stack)
}

export function redactionTests(test: ConformanceTest, options: ConformanceOptions): void {
  const secrets = options.secrets ?? []

  test('describe() names the kind of store and shows no secret', async ({ store }) => {
    const adapter = store.create()
    const description = adapter.describe()
    expect(description.startsWith(`${adapter.kind} `), `describe() = ${JSON.stringify(description)}`).toBe(true)
    expectNoSecret(secrets, 'describe()', description)
  })

  test(
    'errors met in normal use show no secret',
    async ({ open, hold }) => {
      const [first, second] = [await open(), await open()]
      hold(await first.acquire({ store: STORE_NAME, ttlMs: 30_000, waitMs: 0, holder: testHolder('first') }))
      const timeout = await expectFluxError(
        second.acquire({ store: STORE_NAME, ttlMs: 30_000, waitMs: 0, holder: testHolder('second') }),
        'LEASE_TIMEOUT',
      )
      expectErrorWithoutSecret(secrets, 'LEASE_TIMEOUT', timeout)
      if (capabilitiesOf(first).blobs) {
        const blobs = first.client() as BlobStore
        expectErrorWithoutSecret(
          secrets,
          'BLOB_NOT_FOUND',
          await expectFluxError(blobs.get('absent'), 'BLOB_NOT_FOUND'),
        )
        expectErrorWithoutSecret(secrets, 'KEY_INVALID', await expectFluxError(blobs.get('../x'), 'KEY_INVALID'))
      }
    },
    { skip: secrets.length === 0 },
  )

  test(
    'open() of an unreachable target fails with STORE_UNAVAILABLE, showing describe() and no secret; close() after it is harmless',
    async () => {
      const adapter = options.unreachable!()
      const description = adapter.describe()
      expectNoSecret(secrets, 'describe() of the unreachable adapter', description)
      const error = await expectFluxError(adapter.open(), 'STORE_UNAVAILABLE')
      expect(`${error.message}\n${error.hint ?? ''}`).toContain(description)
      expectErrorWithoutSecret(secrets, 'STORE_UNAVAILABLE', error)
      await adapter.close()
    },
    { skip: options.unreachable === undefined },
  )
}
