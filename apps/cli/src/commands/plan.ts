import { FluxError, type Plan, type Project, previewPlan, type SumProblem, sumMismatches } from '@flux/core'
import type { CommandInput } from '../command.ts'
import { stepVerb } from '../format.ts'
import { parseSteps, TARGET_FORMS, whyOf } from '../migrate-command.ts'
import type { Output } from '../output.ts'
import { openProject } from '../project.ts'
import { lintProject, whereOf } from './lint.ts'

export const usage = 'flux plan [target] [--down] [--steps <n>] [--sql] [--offline] [--json]'
export const description = `Shows the steps \`flux up\` (or with --down, \`flux down\`) would run now, in order, with
the store of each and the problems that would stop it, then the lanes: groups of stores
whose steps run side by side with the other groups', when there are several (--json: \`lanes\`). Changes nothing and takes no lease.
With --sql, prints the SQL the steps would run, for review (migrations that compute their
changes at run time are listed as not renderable). With --offline, opens no store: plans
against empty ledgers, as for a fresh database (\`up\` only), so a DBA can review the SQL with no
server and no credentials. Exits 3 when the plan has integrity problems,
or a migrations folder does not match its flux.sum (\`up\` and \`down\` refuse to run then).
${TARGET_FORMS}`
export const maxPositionals = 1
export const options = {
  down: { type: 'boolean', description: 'plan `flux down` instead of `flux up`' },
  steps: { type: 'string', value: 'n', description: 'with --down: the last n applied migrations' },
  sql: { type: 'boolean', description: 'print the SQL each step would run' },
  offline: { type: 'boolean', description: 'open no store: plan as for empty stores (up only)' },
} as const
export const examples = [
  'flux plan',
  'flux plan --sql > review.sql',
  'flux plan --sql --offline > fresh-database.sql',
  'flux plan --json',
  'flux plan --down --steps 1',
  'flux plan --down app@-1',
]

export async function run({ values, positionals, configFile, output, json }: CommandInput): Promise<number> {
  const direction = values.down === true ? 'down' : 'up'
  const offline = values.offline === true
  if (offline && direction === 'down') {
    throw new FluxError('USAGE', '--offline plans against empty stores, where there is nothing to revert', {
      hint: 'use --offline without --down, or drop --offline to plan a down against the stores',
    })
  }
  const project = await openProject(configFile, { unsetStoresAllowed: offline })
  const plan = await previewPlan(project, {
    direction,
    target: positionals[0],
    steps: parseSteps(values.steps),
    offline,
  })
  // reported, not thrown: the plan is still worth reading while flux.sum is being sorted out
  const sums = await sumMismatches(project.components, project.loaders.keys())
  if (values.sql === true) {
    printSql(project, plan, sums, output, json)
    return plan.problems.length > 0 || sums.length > 0 ? 3 : 0
  }
  // what `flux lint` finds in the planned steps: shown, never a reason to refuse
  const planned = new Set(plan.steps.map((step) => step.id))
  const lint = (await lintProject(project)).findings.filter(
    (finding) => planned.has(finding.migration) && finding.direction === direction,
  )
  if (json) {
    output.printJson({ ...plan, sums, ...(lint.length > 0 ? { lint } : {}) })
  } else {
    if (plan.steps.length === 0) output.line(direction === 'up' ? 'nothing to apply' : 'nothing to revert')
    for (const [index, step] of plan.steps.entries()) {
      const uses = step.uses.length > 0 ? output.paint.dim(` uses ${step.uses.join(', ')}`) : ''
      const mode = output.paint.dim(step.transaction ? ' (in a transaction)' : '')
      output.line(
        `${String(index + 1).padStart(3)}. ${stepVerb(step).padEnd(8)} ${step.id}  ${output.paint.dim(`→ ${step.store}`)}${uses}${mode}${whyOf(step)}`,
      )
    }
    printLanes(plan, output)
    for (const problem of plan.problems) output.line(`${output.paint.red(problem.kind.padEnd(12))} ${problem.message}`)
    for (const problem of sums) output.line(`${output.paint.red('flux.sum'.padEnd(12))} ${problem.message}`)
    for (const finding of lint) {
      output.line(`${output.paint.yellow('lint'.padEnd(12))} ${whereOf(finding)} ${finding.rule}: ${finding.message}`)
    }
    if (lint.length > 0) output.line(output.paint.dim('run `flux lint` for the safe alternatives'))
    // a fleet's members are not read here: each may stand elsewhere
    for (const fleet of Object.keys(project.fleets ?? {}).sort()) {
      const count = project.graph.nodes.filter((node) => node.store === fleet).length
      output.line(
        output.paint.dim(
          `fleet ${fleet}: its ${count} ${count === 1 ? 'migration runs' : 'migrations run'} in every member after the rest; \`flux status --fleet ${fleet} --members\` shows which members are behind`,
        ),
      )
    }
  }
  return plan.problems.length > 0 || sums.length > 0 ? 3 : 0
}

/**
 * Which steps can run side by side: each lane (a group of stores), its steps in order, and the
 * steps of other lanes it waits for.
 */
function printLanes(plan: Plan, output: Output): void {
  // one lane: the steps run in the order above
  if (plan.lanes.length < 2) return
  output.line(`lanes: ${plan.lanes.length}, side by side (\`--concurrency\` bounds how many steps run at once)`)
  const shown = (ids: string[]) =>
    ids.length > 6 ? `${ids.slice(0, 5).join(', ')}, … and ${ids.length - 5} more` : ids.join(', ')
  for (const lane of plan.lanes) {
    const steps = `${lane.steps.length} step${lane.steps.length === 1 ? '' : 's'}`
    const after = lane.after.length > 0 ? output.paint.dim(` — waits for ${shown(lane.after)}`) : ''
    output.line(`  ${lane.stores.join(' + ')} (${steps}): ${shown(lane.steps)}${after}`)
  }
}

/** The SQL of each step, as a script a DBA can read; `--json` gives `{ id, store, sql }` per step. */
function printSql(project: Project, plan: Plan, sums: SumProblem[], output: Output, json: boolean): void {
  const direction = plan.direction
  const steps = plan.steps.map((step) => {
    const sql = project.graph.definitions.get(step.id)?.sql
    return {
      id: step.id,
      store: step.store,
      file: step.file,
      sql: sql ? (direction === 'up' ? sql.up : (sql.down ?? null)) : null,
    }
  })
  if (json) {
    output.printJson({ direction, steps, problems: plan.problems, sums })
    return
  }
  for (const step of steps) {
    output.line(`-- ${step.id} (${step.file}) on store "${step.store}"`)
    const definition = project.graph.definitions.get(step.id)
    if (step.sql !== null) {
      output.line(`${step.sql.map((statement) => `${statement.trimEnd().replace(/;$/, '')};`).join('\n')}\n`)
    } else if (direction === 'down' && definition?.down === undefined) {
      output.line(`-- no down(): ${step.file} cannot be reverted\n`)
    } else {
      output.line('-- not renderable: this migration computes its changes at run time\n')
    }
  }
  // what would stop the run, as comments a reviewer sees
  for (const problem of plan.problems) output.line(`-- ${problem.kind}: ${problem.message}`)
  for (const problem of sums) output.line(`-- flux.sum: ${problem.message}`)
}
