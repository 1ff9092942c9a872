import { isDeepStrictEqual } from 'node:util'
import type { CollectionShape, IndexShape } from './mongo-declared.ts'
import { literal } from './mongo-literal.ts'

/** A candidate migration: TypeScript statements over `store` (a `MongoStoreClient`), in order, and notes. */
export interface MongoDiff {
  up: string[]
  down: string[]
  notes: string[]
}

/** One change: its statement for up(), and those that undo it in down(). */
interface Step {
  up: string
  down: string[]
}

/** The options of an index that a declaration can give and the comparison looks at. */
const COMPARED = ['unique', 'sparse', 'partialFilterExpression', 'expireAfterSeconds'] as const

/**
 * What turns the `live` collections into the `declared` ones: collections created, indexes
 * created, dropped, or dropped and created again when their definition changed, validators set
 * with `collMod`. A live collection that is not declared is never dropped: a note says so.
 * down() undoes the steps in reverse order. Pure: no I/O.
 */
export function diffCollections(live: readonly CollectionShape[], declared: readonly CollectionShape[]): MongoDiff {
  const steps: Step[] = []
  const notes: string[] = []
  for (const wanted of declared) {
    const name = literal(wanted.name, `collection ${wanted.name}`)
    const collection = `store.db.collection(${name})`
    const current = live.find((candidate) => candidate.name === wanted.name)
    if (!current) {
      const options = hasValidation(wanted) ? `, ${literal(validation(wanted), `the validator of ${wanted.name}`)}` : ''
      steps.push({ up: `await store.db.createCollection(${name}${options})`, down: [`await ${collection}.drop()`] })
      notes.push(`down drops collection ${wanted.name}, which up creates, with the documents written to it since`)
      if (wanted.indexes.length > 0) {
        // dropping the collection drops its indexes too
        steps.push({ up: `await ${collection}.createIndexes(${specs(wanted.name, wanted.indexes)})`, down: [] })
      }
      continue
    }
    const created: IndexShape[] = []
    for (const index of current.indexes) {
      const next = wanted.indexes.find((candidate) => candidate.name === index.name)
      if (next && sameIndex(index, next)) continue
      steps.push({
        up: `await ${collection}.dropIndex(${literal(index.name, `index ${index.name}`)})`,
        down: [`await ${collection}.createIndexes(${specs(wanted.name, [index])})`],
      })
      if (next) {
        created.push(next)
        notes.push(
          `index ${wanted.name}.${index.name} changes (${changes(index, next).join(', ')}): up drops it and creates it again, so ${wanted.name} is without it while it builds`,
        )
      }
    }
    created.push(...wanted.indexes.filter((index) => !current.indexes.some((old) => old.name === index.name)))
    if (created.length > 0) {
      steps.push({
        up: `await ${collection}.createIndexes(${specs(wanted.name, created)})`,
        down: created.map((index) => `await ${collection}.dropIndex(${literal(index.name, `index ${index.name}`)})`),
      })
    }
    if (!sameValidation(current, wanted)) {
      const collMod = (shape: CollectionShape) =>
        `await store.db.command(${literal({ collMod: wanted.name, ...validation(shape, {}) }, `the validator of ${wanted.name}`)})`
      steps.push({ up: collMod(wanted), down: [collMod(current)] })
    }
  }
  for (const extra of live) {
    if (declared.some((wanted) => wanted.name === extra.name)) continue
    notes.push(
      `collection ${extra.name} is in the database but not declared: autogenerate never drops a collection (declare it, or drop it in a migration of your own)`,
    )
  }
  return {
    up: steps.map((step) => step.up),
    down: [...steps].reverse().flatMap((step) => step.down),
    notes,
  }
}

function specs(collection: string, indexes: readonly IndexShape[]): string {
  // key and name first, as people write them
  const ordered = indexes.map(({ key, name, ...options }) => ({ key, name, ...options }))
  return literal(ordered, `the indexes of ${collection}`)
}

function sameIndex(current: IndexShape, wanted: IndexShape): boolean {
  return changes(current, wanted).length === 0
}

/** What differs between two indexes of the same name: `key`, `unique`… */
function changes(current: IndexShape, wanted: IndexShape): string[] {
  const normal = (value: unknown) => (value === false ? undefined : value)
  const differ = COMPARED.filter((option) => !isDeepStrictEqual(normal(current[option]), normal(wanted[option])))
  // the order of a key's fields matters, the order of an options document does not
  const key = isDeepStrictEqual(Object.entries(current.key).map(numeric), Object.entries(wanted.key).map(numeric))
  return key ? differ : ['key', ...differ]
}

function numeric([field, direction]: [string, unknown]): [string, unknown] {
  return [field, typeof direction === 'object' && direction !== null ? Number(direction.valueOf()) : direction]
}

function hasValidation(shape: CollectionShape): boolean {
  return shape.validator !== undefined || shape.validationLevel !== 'strict' || shape.validationAction !== 'error'
}

function validation(shape: CollectionShape, none?: object) {
  return {
    validator: shape.validator ?? none,
    validationLevel: shape.validationLevel,
    validationAction: shape.validationAction,
  }
}

function sameValidation(current: CollectionShape, wanted: CollectionShape): boolean {
  if (current.validator === undefined && wanted.validator === undefined) return true
  return (
    isDeepStrictEqual(current.validator, wanted.validator) &&
    current.validationLevel === wanted.validationLevel &&
    current.validationAction === wanted.validationAction
  )
}
