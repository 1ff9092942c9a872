import { type Adapter, FluxError, type Project } from '@flux/core'
import type { CommandInput } from '../command.ts'
import type { Output } from '../output.ts'
import { openProject } from '../project.ts'

/** What a store's adapter reports (the adapter contract's `lint`). */
export type LintFinding = Awaited<ReturnType<NonNullable<Adapter['lint']>>>[number]

export const usage = 'flux lint [--store <name>] [--json]'
export const description = `Checks the migrations whose SQL is known before they run (pg: \`.sql\` files and
schemaMigration files) for what takes a long lock or destroys data, and names for each finding the
file, line, rule and the safe alternative. Opens no store: the SQL is parsed offline (pg: with
PostgreSQL's own parser), each migration against what the store's earlier migrations created.
Rules (pg): index-not-concurrent, volatile-default, column-type-rewrite, not-null-without-check,
drop-data (a warning), drop-without-down, drop-used-by-view. To accept a finding on purpose, put
\`-- flux-lint-ignore <rule> <reason>\` on the line before the statement (TypeScript migrations:
\`lintIgnore({ '<rule>': '<reason>' }, migration)\` from @flux/pg).
Exits 1 when a finding is an error (warnings alone exit 0): run it in CI.`
export const maxPositionals = 0
export const options = {
  store: { type: 'string', value: 'name', description: "lint this store's migrations only" },
} as const
export const examples = ['flux lint', 'flux lint --store catalog', 'flux lint --json']

export async function run({ values, configFile, output, json }: CommandInput): Promise<number> {
  const project = await openProject(configFile, { unsetStoresAllowed: true })
  const store = typeof values.store === 'string' ? values.store : undefined
  if (store !== undefined && !(store in project.adapters)) {
    throw new FluxError('USAGE', `no store "${store}" in ${project.configFile}`, {
      hint: `name one of the configured stores: ${Object.keys(project.adapters).join(', ')}`,
    })
  }
  const { findings, checked, stores } = await lintProject(project, store)
  const errors = findings.filter((finding) => finding.severity === 'error').length
  const warnings = findings.length - errors
  if (json) {
    output.printJson({ findings, checked, stores, errors, warnings })
    return errors > 0 ? 1 : 0
  }
  if (stores.length === 0) {
    output.line(
      store === undefined
        ? 'no store can lint its migrations (pg stores can)'
        : `store "${store}" cannot lint its migrations`,
    )
    return 0
  }
  for (const finding of findings) printFinding(finding, output)
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`
  const migrations = new Set(findings.map((finding) => finding.migration)).size
  output.line(
    findings.length === 0
      ? `no findings in ${count(checked, 'migration')} (${stores.join(', ')})`
      : `${count(errors, 'error')}, ${count(warnings, 'warning')} in ${migrations} of ${count(checked, 'migration')} (${stores.join(', ')})`,
  )
  return errors > 0 ? 1 : 0
}

/**
 * Every finding of the stores whose adapter lints (or of one store), each store's migrations
 * given in run order; `checked` counts the migrations with known SQL.
 */
export async function lintProject(
  project: Project,
  only?: string,
): Promise<{ findings: LintFinding[]; checked: number; stores: string[] }> {
  const findings: LintFinding[] = []
  const stores: string[] = []
  let checked = 0
  for (const [name, adapter] of Object.entries(project.adapters)) {
    if ((only !== undefined && name !== only) || typeof adapter.lint !== 'function') continue
    stores.push(name)
    const subjects = project.graph.nodes
      .filter((node) => node.store === name)
      .map((node) => ({ id: node.id, file: node.file, definition: project.graph.definitions.get(node.id)! }))
    checked += subjects.filter((subject) => subject.definition?.sql !== undefined).length
    findings.push(...(await adapter.lint(subjects)))
  }
  return { findings, checked, stores }
}

/** `file:line`, or for a migration without lines (TypeScript) its section and statement. */
export function whereOf(finding: LintFinding): string {
  if (finding.line === undefined) return `${finding.file} (${finding.direction}, statement ${finding.statement})`
  return `${finding.file}:${finding.line}${finding.direction === 'down' ? ' (down)' : ''}`
}

function printFinding(finding: LintFinding, output: Output): void {
  const severity = finding.severity === 'error' ? output.paint.red('error') : output.paint.yellow('warning')
  output.line(`${whereOf(finding)}  ${severity} ${output.paint.bold(finding.rule)}`)
  output.line(`  ${finding.message}`)
  output.line(output.paint.dim(`  safe: ${finding.hint}`))
}
