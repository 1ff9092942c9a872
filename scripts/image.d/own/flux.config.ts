// The project of `scripts/image test` with a node_modules of its own, as npm lays it out: its own
// @flux/core and @flux/fs (copied in by the test) and a component package, @image-test/notes.
import { defineConfig } from '@flux/core'
import { fsStore } from '@flux/fs'

export default defineConfig({
  stores: { files: fsStore({ root: './var/files' }) },
  components: { '@image-test/notes': { stores: { notes: 'files' } } },
  migrations: './migrations',
})
