import type { Db } from 'mongodb'
import { type CollectionShape, loadDeclared } from './mongo-declared.ts'
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
  const diff = diffCollections(live, wanted)
  const lacking = await ferretLacks(db, wanted)
  if (lacking) diff.notes.push(lacking)
  return { ...diff, language: 'typescript' }
}

/**
 * On FerretDB 1.x, which implements no validators (`collMod`, `create … validator`), no TTL and
 * no partial indexes, and keeps no `sparse` flag: a note naming what the declaration uses of them.
 */
async function ferretLacks(db: Db, wanted: readonly CollectionShape[]): Promise<string | undefined> {
  const version = (await db.command({ buildInfo: 1 })).ferretdbVersion
  if (typeof version !== 'string' || !/^v?1\./.test(version)) return undefined
  const indexes = wanted.flatMap((collection) => collection.indexes)
  const failing = [
    wanted.some((collection) => collection.validator !== undefined) && 'validators',
    indexes.some((index) => index.expireAfterSeconds !== undefined) && 'TTL indexes (expireAfterSeconds)',
    indexes.some((index) => index.partialFilterExpression !== undefined) && 'partial indexes',
  ].filter((feature) => feature !== false)
  const sparse = indexes.some((index) => index.sparse === true)
  if (failing.length === 0 && !sparse) return undefined
  return [
    `this server is FerretDB ${version}`,
    failing.length > 0 &&
      `, which has no ${failing.join(', ')}: the steps that set them fail there; run them against MongoDB`,
    sparse &&
      `${failing.length > 0 ? '; it' : ', which'} keeps no sparse flag: a sparse index comes back in every autogenerate`,
  ]
    .filter((part) => part !== false)
    .join('')
}
