// The project the README's pipeline example runs in (scripts/image test): a pg store at
// DATABASE_URL, as `flux init --adapter pg` writes it.
import { defineConfig } from '@flux/core'
import { pgStore } from '@flux/pg'

const { env } = process

export default defineConfig({
  stores: {
    db: pgStore({ url: env.DATABASE_URL }),
  },
  migrations: './migrations',
})
