import { FluxError } from '@flux/core'

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/
/** A literal longer than this is written over several lines, one member a line. */
const WIDTH = 80

/**
 * A value as TypeScript source: on one line where it is short (`{ key: { email: 1 }, name:
 * 'email_1' }`), else one member a line, nested lines indented by two spaces more than the
 * statement. Dates and regular expressions are written as such, and BSON numbers as numbers;
 * other BSON values (an ObjectId in a partial filter…) are refused with an error naming `where`.
 */
export function literal(value: unknown, where: string, indent = ''): string {
  const flat = render(value, where, undefined)
  if (flat.length <= WIDTH || typeof value !== 'object' || value === null || !isContainer(value)) return flat
  const inner = `${indent}  `
  const lines = Array.isArray(value)
    ? value.map((item) => `${inner}${literal(item, where, inner)},`)
    : members(value).map(([key, member]) => `${inner}${name(key, where)}: ${literal(member, where, inner)},`)
  const [open, close] = Array.isArray(value) ? ['[', ']'] : ['{', '}']
  return `${open}\n${lines.join('\n')}\n${indent}${close}`
}

function render(value: unknown, where: string, _indent: undefined): string {
  if (value === null) return 'null'
  if (typeof value === 'string')
    return `'${JSON.stringify(value).slice(1, -1).replace(/\\"/g, '"').replace(/'/g, "\\'")}'`
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  if (value instanceof Date) return `new Date(${render(value.toISOString(), where, undefined)})`
  if (value instanceof RegExp) return String(value)
  if (Array.isArray(value)) return `[${value.map((item) => render(item, where, undefined)).join(', ')}]`
  if (typeof value === 'object') {
    const bsonType = (value as { _bsontype?: string })._bsontype
    if (bsonType === 'Int32' || bsonType === 'Double' || bsonType === 'Long') return String(Number(value.valueOf()))
    if (bsonType === undefined) {
      const rendered = members(value).map(([key, member]) => `${name(key, where)}: ${render(member, where, undefined)}`)
      return rendered.length === 0 ? '{}' : `{ ${rendered.join(', ')} }`
    }
    throw new FluxError('STORE_ERROR', `cannot write the ${bsonType} in ${where} as TypeScript`, {
      hint: 'write that part of the migration yourself, or declare the value with a plain JSON type',
    })
  }
  throw new FluxError('STORE_ERROR', `cannot write the ${typeof value} in ${where} as TypeScript`, {
    hint: 'declare plain JSON values (objects, arrays, strings, numbers, booleans, null), dates and regular expressions',
  })
}

/** An array or a plain object, which may be written over several lines. */
function isContainer(value: object): boolean {
  return Array.isArray(value) || (!(value instanceof Date) && !(value instanceof RegExp) && !('_bsontype' in value))
}

function members(value: object): [string, unknown][] {
  return Object.entries(value).filter(([, member]) => member !== undefined)
}

function name(key: string, where: string): string {
  return IDENTIFIER.test(key) ? key : render(key, where, undefined)
}
