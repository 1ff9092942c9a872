import { FluxError } from '@flux/core'

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/

/**
 * A value as TypeScript source, on one line: `{ key: { email: 1 }, name: 'email_1' }`. Dates and
 * regular expressions are written as such, and BSON numbers as numbers; other BSON values (an
 * ObjectId in a partial filter…) cannot be written and are refused with an error naming `where`.
 */
export function literal(value: unknown, where: string): string {
  if (value === null) return 'null'
  if (typeof value === 'string')
    return `'${JSON.stringify(value).slice(1, -1).replace(/\\"/g, '"').replace(/'/g, "\\'")}'`
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  if (value instanceof Date) return `new Date(${literal(value.toISOString(), where)})`
  if (value instanceof RegExp) return String(value)
  if (Array.isArray(value)) return `[${value.map((item) => literal(item, where)).join(', ')}]`
  if (typeof value === 'object') {
    const bsonType = (value as { _bsontype?: string })._bsontype
    if (bsonType === 'Int32' || bsonType === 'Double' || bsonType === 'Long') return String(Number(value.valueOf()))
    if (bsonType === undefined) {
      const members = Object.entries(value)
        .filter(([, member]) => member !== undefined)
        .map(([key, member]) => `${IDENTIFIER.test(key) ? key : literal(key, where)}: ${literal(member, where)}`)
      return members.length === 0 ? '{}' : `{ ${members.join(', ')} }`
    }
    throw new FluxError('STORE_ERROR', `cannot write the ${bsonType} in ${where} as TypeScript`, {
      hint: 'write that part of the migration yourself, or declare the value with a plain JSON type',
    })
  }
  throw new FluxError('STORE_ERROR', `cannot write the ${typeof value} in ${where} as TypeScript`, {
    hint: 'declare plain JSON values (objects, arrays, strings, numbers, booleans, null), dates and regular expressions',
  })
}
