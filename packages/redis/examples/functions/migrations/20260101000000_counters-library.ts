import { defineMigration } from '@flux/core'
import type { RedisClient } from '@flux/redis'

// The library lives in this file, so editing it changes the file's checksum, and a
// repeatable migration runs again: `flux up` replaces the library with the new version.
const LIBRARY = `#!lua name=counters
local function bump(keys, args)
  return redis.call('INCRBY', keys[1], tonumber(args[1] or '1'))
end
redis.register_function('counters_bump', bump)
`

export default defineMigration<RedisClient>({
  store: 'cache',
  repeatable: true,
  // each master of a cluster keeps its own functions: load the library on every one
  async up({ store }) {
    await Promise.all(store.masters().map((node) => node.call('FUNCTION', 'LOAD', 'REPLACE', LIBRARY)))
  },
  async down({ store }) {
    await Promise.all(
      store.masters().map((node) =>
        node.call('FUNCTION', 'DELETE', 'counters').catch((error: Error) => {
          if (!/library not found/i.test(error.message)) throw error
        }),
      ),
    )
  },
})
