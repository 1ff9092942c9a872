import { defineConfig } from '@flux/core'
import { fsStore } from '@flux/fs'

// The travel site keeps its hotel photos in a directory: the embedded default store,
// with nothing to install. PostgreSQL, MongoDB, Redis and S3 stores join it later.
export default defineConfig({
  stores: {
    photos: fsStore({ root: process.env.DEMO_PHOTOS_DIR ?? './var/photos' }),
  },
  migrations: './migrations',
})
