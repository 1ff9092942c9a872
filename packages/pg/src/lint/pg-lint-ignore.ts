import type { MigrationDefinition } from '@flux/core'

/** `-- flux-lint-ignore <rule> <reason>` on the lines just before a statement of a `.sql` file. */
export const IGNORE_COMMENT = /^\s*--\s*flux-lint-ignore\b[ \t]*(\S*)[ \t]*(.*?)\s*$/

/** A rule accepted on purpose, and why. */
export interface LintIgnore {
  rule: string
  reason: string
  /** Where the comment is (a `.sql` file). */
  line?: number
}

/**
 * The ignore comments of the statement starting on `line`: those in the run of comment lines
 * right above it (blank lines and code end the run).
 */
export function ignoresAbove(lines: readonly string[], line: number): LintIgnore[] {
  const found: LintIgnore[] = []
  for (let index = line - 2; index >= 0; index--) {
    const text = lines[index]!
    if (!/^\s*--/.test(text)) break
    const match = IGNORE_COMMENT.exec(text)
    if (match) found.push({ rule: match[1]!, reason: match[2]!, line: index + 1 })
  }
  return found
}

const IGNORES = Symbol.for('flux.pg.lint-ignore')

/**
 * Accepts lint findings on purpose for a migration written in TypeScript (a `schemaMigration`,
 * or any migration with `sql`), the equivalent of a `-- flux-lint-ignore` comment: each rule
 * named is silenced for every statement of the migration, and the reason is kept with it.
 *
 * @example
 * ```ts
 * export default lintIgnore(
 *   { 'index-not-concurrent': 'hotel has 40 rows' },
 *   schemaMigration({ store: 'catalog' }, (schema) => [schema.createIndex('hotel_name', 'hotel', ['name'])]),
 * )
 * ```
 */
export function lintIgnore<Definition extends MigrationDefinition>(
  rules: Readonly<Record<string, string>>,
  definition: Definition,
): Definition {
  const ignores = Object.entries(rules).map(([rule, reason]) => ({ rule, reason }))
  Object.defineProperty(definition, IGNORES, { value: [...ignoresOf(definition), ...ignores], configurable: true })
  return definition
}

/** The rules {@link lintIgnore} accepted for a migration. */
export function ignoresOf(definition: MigrationDefinition): readonly LintIgnore[] {
  return (definition as unknown as Record<symbol, LintIgnore[] | undefined>)[IGNORES] ?? []
}
