import type { Db } from 'mongodb'
import { loadDeclared } from './mongo-declared.ts'
import { diffCollections, type MongoDiff } from './mongo-diff.ts'
import { introspect } from './mongo-introspect.ts'

export interface DeclaredModule {
  /** Absolute path of the module. */
  path: string
  /** The path as the config gives it, for messages. */
  display: string
}

/**
 * Compares the database with the declared collections and returns the TypeScript statements of a
 * migration that makes it match. Reads only: nothing is created or changed. `skip`: flux's own
 * collections (ledger, lock), never compared.
 */
export async function autogenerate(
  db: Db,
  declared: DeclaredModule,
  skip: readonly string[],
): Promise<MongoDiff & { language: 'typescript' }> {
  const wanted = await loadDeclared(declared.path, declared.display)
  const live = await introspect(db, skip)
  return { ...diffCollections(live, wanted), language: 'typescript' }
}
