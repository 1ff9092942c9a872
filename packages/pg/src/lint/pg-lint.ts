import { readFile } from 'node:fs/promises'
import type { Adapter } from '@flux/core'
import { sqlOf } from '../pg-sql-file.ts'
import { ignoresAbove, ignoresOf, type LintIgnore } from './pg-lint-ignore.ts'
import { checkStatement, LINT_RULES, type RuleFinding } from './pg-lint-rules.ts'
import { emptyState, type SchemaState } from './pg-lint-schema.ts'

// core's index does not export these types of the adapter contract (yet)
type LintSubject = Parameters<NonNullable<Adapter['lint']>>[0][number]
type LintFinding = Awaited<ReturnType<NonNullable<Adapter['lint']>>>[number]

const IGNORE_HINT = `name one of the rules: ${Object.keys(LINT_RULES).join(', ')}, then why: \`-- flux-lint-ignore <rule> <reason>\``

/**
 * Lints a pg store's migrations, in run order, with PostgreSQL's own parser (libpg-query,
 * compiled to WebAssembly: no server). Each migration is checked against what the ones before
 * it created; a `.sql` file's findings carry the line of their statement.
 */
export async function lintMigrations(subjects: readonly LintSubject[]): Promise<LintFinding[]> {
  // loaded when a lint runs: the parser is WebAssembly, of no use to a migration run
  const { loadModule, parseSync } = await import('libpg-query')
  await loadModule()
  const check = (text: string, state: SchemaState, context: Parameters<typeof checkStatement>[2]) =>
    checkText(parseSync, text, state, context)
  const state = emptyState()
  const findings: LintFinding[] = []
  for (const subject of subjects) {
    const sql = subject.definition.sql
    if (!sql) continue
    const script = sqlOf(subject.definition)
    // a .sql file: its lines, for the statements' ignore comments
    const lines = script ? (await readFile(subject.file, 'utf8')).split(/\r?\n/) : undefined
    const hasDown = subject.definition.down !== undefined
    const sections: ['up' | 'down', readonly string[], readonly { line: number }[] | undefined][] = [
      ['up', sql.up, script?.up],
    ]
    if (sql.down) sections.push(['down', sql.down, script?.down])
    for (const [direction, statements, located] of sections) {
      // a down is checked against the schema its up left, and changes nothing after it
      const scratch: SchemaState = direction === 'up' ? state : structuredClone(state)
      const createdHere = new Set<string>()
      for (const [index, text] of statements.entries()) {
        const line = located?.[index]?.line
        const ignores = line !== undefined && lines ? ignoresAbove(lines, line) : [...ignoresOf(subject.definition)]
        const found = [...check(text, scratch, { direction, createdHere, hasDown }), ...badIgnores(ignores)]
        for (const { rule, message } of found) {
          if (ignores.some((ignore) => ignore.rule === rule && ignore.reason !== '')) continue
          const known = rule in LINT_RULES ? LINT_RULES[rule as keyof typeof LINT_RULES] : undefined
          const finding: LintFinding = {
            migration: subject.id,
            file: subject.file,
            direction,
            statement: index + 1,
            rule,
            severity: known?.severity ?? 'error',
            message,
            hint: known
              ? `${known.hint}; to accept it on purpose: ${script ? `\`-- flux-lint-ignore ${rule} <reason>\` on the line before the statement` : `\`lintIgnore({ '${rule}': '<reason>' }, …)\` from @flux/pg around the migration`}`
              : rule === 'syntax'
                ? 'fix the statement: PostgreSQL will refuse it too'
                : IGNORE_HINT,
          }
          if (line !== undefined) finding.line = line
          findings.push(finding)
        }
      }
    }
  }
  return findings
}

function checkText(
  parseSync: (text: string) => unknown,
  text: string,
  state: SchemaState,
  context: Parameters<typeof checkStatement>[2],
): RuleFinding[] {
  let parsed: { stmts?: { stmt?: Record<string, any> }[] }
  try {
    parsed = parseSync(text) as typeof parsed
  } catch (error) {
    return [{ rule: 'syntax', message: `PostgreSQL's parser refuses the statement: ${(error as Error).message}` }]
  }
  return (parsed.stmts ?? []).flatMap(({ stmt }) => (stmt ? checkStatement(stmt, state, context) : []))
}

function badIgnores(ignores: readonly LintIgnore[]): RuleFinding[] {
  return ignores.flatMap(({ rule, reason }): RuleFinding[] => {
    if (rule === '') return [{ rule: 'lint-ignore', message: 'an ignore names no rule' }]
    if (!(rule in LINT_RULES)) return [{ rule: 'lint-ignore', message: `an ignore names the unknown rule "${rule}"` }]
    if (reason === '') return [{ rule: 'lint-ignore', message: `the ignore of rule "${rule}" gives no reason` }]
    return []
  })
}
