import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import pg from 'pg'
import { expect, it } from 'vitest'
import { fasterScram } from '../src/pg-scram.ts'
import { describeWithServer } from './pg-test-helpers.ts'

interface ScramUtils {
  deriveKey(password: string, salt: Uint8Array, iterations: number): Promise<ArrayBuffer>
  hmacSha256(key: ArrayBuffer, message: string): Promise<ArrayBuffer>
  sha256(data: ArrayBuffer): Promise<ArrayBuffer>
}

const utils = createRequire(import.meta.url)('pg/lib/crypto/utils') as ScramUtils
const bytes = (buffer: ArrayBuffer) => Buffer.from(buffer).toString('hex')

describeWithServer("node-postgres's SCRAM sign-in, made cheaper", (url) => {
  it('computes what WebCrypto computes, signs in many sessions, and still refuses a wrong password', async () => {
    const original = { ...utils }
    const salt = randomBytes(16)
    const inputs = { password: 'pässword ✓', message: `n=*,r=${randomBytes(18).toString('base64')}` }
    const expected = await (async () => {
      const salted = await original.deriveKey(inputs.password, salt, 4096)
      const clientKey = await original.hmacSha256(salted, inputs.message)
      return { salted: bytes(salted), clientKey: bytes(clientKey), stored: bytes(await original.sha256(clientKey)) }
    })()

    fasterScram()
    expect(utils.deriveKey).not.toBe(original.deriveKey)
    const salted = await utils.deriveKey(inputs.password, salt, 4096)
    const clientKey = await utils.hmacSha256(salted, inputs.message)
    expect({
      salted: bytes(salted),
      clientKey: bytes(clientKey),
      stored: bytes(await utils.sha256(clientKey)),
    }).toEqual(expected)
    // another salt is another salted password, not the one kept
    expect(bytes(await utils.deriveKey(inputs.password, randomBytes(16), 4096))).not.toBe(expected.salted)

    // sessions in a row sign in with the kept salted password
    for (let index = 0; index < 5; index++) {
      const client = new pg.Client({ connectionString: url })
      await client.connect()
      expect((await client.query('select 1 as one')).rows).toEqual([{ one: 1 }])
      await client.end()
    }
    const wrong = new URL(url)
    wrong.password = 'not-the-password'
    const refused = new pg.Client({ connectionString: wrong.href })
    await expect(refused.connect()).rejects.toThrow(/password authentication failed|SASL|signature/i)
    await refused.end().catch(() => {})
  })
})
