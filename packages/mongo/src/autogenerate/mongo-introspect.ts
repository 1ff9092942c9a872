import type { Db } from 'mongodb'
import type { CollectionShape, IndexShape } from './mongo-declared.ts'

/**
 * The database's collections (not views, not `system.*`, not those named in `skip`: flux's
 * ledger and lock) with their indexes besides `_id_` and their validators, sorted by name.
 */
export async function introspect(db: Db, skip: readonly string[]): Promise<CollectionShape[]> {
  const listed = await db.listCollections({}, { nameOnly: false }).toArray()
  const collections: CollectionShape[] = []
  for (const info of listed.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (info.type !== undefined && info.type !== 'collection') continue
    if (info.name.startsWith('system.') || skip.includes(info.name)) continue
    const options = (info as { options?: Record<string, unknown> }).options ?? {}
    const indexes = (await db.collection(info.name).listIndexes().toArray())
      .filter((index) => index.name !== '_id_')
      .map(({ v: _version, ns: _namespace, ...index }) => index as IndexShape)
    const validator = options.validator as Record<string, unknown> | undefined
    collections.push({
      name: info.name,
      indexes,
      validator: validator && Object.keys(validator).length > 0 ? validator : undefined,
      validationLevel: typeof options.validationLevel === 'string' ? options.validationLevel : 'strict',
      validationAction: typeof options.validationAction === 'string' ? options.validationAction : 'error',
    })
  }
  return collections
}
