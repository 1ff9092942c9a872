import { describe, it } from './vitest.ts'

/**
 * A `describe()` for tests that need a server whose address is in the environment variable
 * `variable`; `fn` gets its value. Without it, the tests fail under CI (`CI` set, and not
 * "false"), where a missing server must not pass for skipped tests, and are skipped
 * elsewhere. Either way the message names the variable, and `hint` says how to start one.
 *
 * @example
 * ```ts
 * describeWithServer('FLUX_TEST_PG_URL', 'migrations on PostgreSQL', (url) => {
 *   it('applies them', async () => { … })
 * })
 * ```
 */
export function describeWithServer(
  variable: string,
  name: string,
  fn: (value: string) => void,
  hint = 'set it to the address of a test server',
): void {
  const value = process.env[variable]
  if (value) {
    describe(name, () => fn(value))
    return
  }
  const missing = `${variable} is not set: ${hint}`
  if (process.env.CI && process.env.CI !== 'false') {
    describe(name, () => {
      it(`needs ${variable}`, () => {
        throw new Error(missing)
      })
    })
    return
  }
  console.warn(`skipping "${name}": ${missing}`)
  describe.skip(`${name}: ${missing}`, () => {
    it(`needs ${variable}`, () => {})
  })
}
