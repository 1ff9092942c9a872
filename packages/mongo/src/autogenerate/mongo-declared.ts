import { access } from 'node:fs/promises'
import { FluxError, importModule } from '@flux/core'
import type { Document, IndexDirection } from 'mongodb'

/** One index of a declared collection, as `createIndexes` takes it. */
export interface DeclaredIndex {
  /** Fields and directions, in order: `{ author: 1, createdAt: -1 }`. */
  key: Record<string, IndexDirection>
  /** Default: MongoDB's own name for the key (`author_1_createdAt_-1`). Indexes are matched by name. */
  name?: string
  unique?: boolean
  sparse?: boolean
  partialFilterExpression?: Document
  expireAfterSeconds?: number
}

/** One declared collection: its indexes (besides `_id_`) and its validator, as `createCollection` takes them. */
export interface DeclaredCollection {
  /** Every index the collection should have besides `_id_`; one not listed is dropped. Default: none. */
  indexes?: DeclaredIndex[]
  /** The validator, normally `{ $jsonSchema: … }`. Absent: the collection should have none. */
  validator?: Document
  /** Default `'strict'`: every insert and update is checked. */
  validationLevel?: 'off' | 'strict' | 'moderate'
  /** Default `'error'`: invalid writes are refused. */
  validationAction?: 'error' | 'warn'
}

/** The collections a mongo store should have, by name: the default export of its `declared` module. */
export type DeclaredCollections = Record<string, DeclaredCollection>

/**
 * Types the default export of a mongo store's `declared` module (`mongoStore({ declared: 'db/mongo.ts' })`),
 * which `flux new <name> --autogenerate` compares with the live database.
 *
 * @example
 * ```ts
 * export default declareCollections({
 *   users: {
 *     indexes: [{ key: { email: 1 }, unique: true }],
 *     validator: { $jsonSchema: { bsonType: 'object', required: ['email'] } },
 *   },
 * })
 * ```
 */
export function declareCollections<const T extends DeclaredCollections>(collections: T): T {
  return collections
}

/** A declared collection with every default applied and every index named. */
export interface CollectionShape {
  name: string
  indexes: IndexShape[]
  validator: Document | undefined
  validationLevel: string
  validationAction: string
}

/** An index as `listIndexes` shows it, without `v` and `ns`. */
export interface IndexShape {
  name: string
  key: Record<string, IndexDirection>
  [option: string]: unknown
}

const INDEX_OPTIONS = new Set(['key', 'name', 'unique', 'sparse', 'partialFilterExpression', 'expireAfterSeconds'])
const COLLECTION_OPTIONS = new Set(['indexes', 'validator', 'validationLevel', 'validationAction'])

/** Imports the declared module (`display` as the config gives it, `path` resolved) and checks it. */
export async function loadDeclared(path: string, display: string): Promise<CollectionShape[]> {
  const invalid = (message: string, hint: string, cause?: unknown) =>
    new FluxError('CONFIG_INVALID', message, { hint, file: display, cause })
  try {
    await access(path)
  } catch (error) {
    throw invalid(
      `cannot read the declared collections ${display}: no such file`,
      "declared is a module whose default export is declareCollections({ … }), relative to the config's folder: create it, or fix the path",
      error,
    )
  }
  let exported: unknown
  try {
    exported = (await importModule(path)).default
  } catch (error) {
    throw invalid(
      `cannot load the declared collections ${display}: ${(error as Error).message ?? String(error)}`,
      'fix the module: its default export is declareCollections({ … }) from @flux/mongo',
      error,
    )
  }
  if (!isObject(exported)) {
    throw invalid(
      `${display} has no default export of collections`,
      "export default declareCollections({ users: { indexes: [{ key: { email: 1 }, unique: true }] } }) (import { declareCollections } from '@flux/mongo')",
    )
  }
  return Object.entries(exported).map(([name, declared]) => {
    const where = `${display}: collection ${name}`
    if (!isObject(declared))
      throw invalid(`${where} is not an object`, 'declare it as { indexes: [...], validator: {...} }')
    const unknown = Object.keys(declared).filter((option) => !COLLECTION_OPTIONS.has(option))
    if (unknown.length > 0) {
      throw invalid(`${where} has unknown options: ${unknown.join(', ')}`, `use ${[...COLLECTION_OPTIONS].join(', ')}`)
    }
    if (name === '' || name.includes('$') || name.startsWith('system.')) {
      throw invalid(`${display}: ${JSON.stringify(name)} is not a collection name flux can create`, 'use a plain name')
    }
    const collection = declared as DeclaredCollection
    if (collection.indexes !== undefined && !Array.isArray(collection.indexes)) {
      throw invalid(`${where}: indexes is not an array`, 'indexes: [{ key: { email: 1 }, unique: true }]')
    }
    if (collection.validator !== undefined && !isObject(collection.validator)) {
      throw invalid(`${where}: validator is not an object`, "validator: { $jsonSchema: { bsonType: 'object' } }")
    }
    const indexes = (collection.indexes ?? []).map((index, position) =>
      indexShape(index, `${where}, index ${position + 1}`, invalid),
    )
    const names = indexes.map((index) => index.name)
    const twice = names.find((indexName, position) => names.indexOf(indexName) !== position)
    if (twice !== undefined)
      throw invalid(`${where} declares two indexes named ${twice}`, 'give each index its own name')
    if (names.includes('_id_')) throw invalid(`${where} declares _id_`, 'leave out _id_: every collection has it')
    return {
      name,
      indexes,
      validator: collection.validator,
      validationLevel: collection.validationLevel ?? 'strict',
      validationAction: collection.validationAction ?? 'error',
    }
  })
}

function indexShape(
  index: DeclaredIndex,
  where: string,
  invalid: (message: string, hint: string) => FluxError,
): IndexShape {
  if (!isObject(index) || !isObject(index.key) || Object.keys(index.key).length === 0) {
    throw invalid(`${where} has no key`, 'declare it as { key: { field: 1 } }')
  }
  const unknown = Object.keys(index).filter((option) => !INDEX_OPTIONS.has(option))
  if (unknown.length > 0) {
    throw invalid(`${where} has unknown options: ${unknown.join(', ')}`, `use ${[...INDEX_OPTIONS].join(', ')}`)
  }
  const shape: IndexShape = { name: index.name ?? defaultIndexName(index.key), key: index.key }
  for (const option of ['unique', 'sparse', 'partialFilterExpression', 'expireAfterSeconds'] as const) {
    if (index[option] !== undefined && index[option] !== false) shape[option] = index[option]
  }
  return shape
}

/** MongoDB's name for an index on `key`: `author_1_createdAt_-1`. */
export function defaultIndexName(key: Record<string, IndexDirection>): string {
  return Object.entries(key)
    .map(([field, direction]) => `${field}_${String(direction)}`)
    .join('_')
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
