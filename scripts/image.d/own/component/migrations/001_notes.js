import { defineMigration } from '@flux/core'

// A component's migration, in the project's node_modules: its @flux/core is the project's too.
export default defineMigration({
  store: 'notes',
  async up({ store }) {
    await store.put('notes.json', `${JSON.stringify({ core: import.meta.resolve('@flux/core') })}\n`)
  },
  async down({ store }) {
    await store.delete('notes.json')
  },
})
