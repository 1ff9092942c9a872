import { previewPlan } from '@flux/core'
import type { CommandInput } from '../command.ts'
import { stepVerb } from '../format.ts'
import { parseSteps } from '../migrate-command.ts'
import { openProject } from '../project.ts'

export const usage = 'flux plan [target] [--down] [--steps <n>] [--json]'
export const description = `Shows the steps \`flux up\` (or with --down, \`flux down\`) would run now, in order, with
the store of each and the problems that would stop it. Changes nothing and takes no lease.
Exits 3 when the plan has integrity problems.`
export const maxPositionals = 1
export const options = {
  down: { type: 'boolean', description: 'plan `flux down` instead of `flux up`' },
  steps: { type: 'string', value: 'n', description: 'with --down: the last n applied migrations' },
} as const
export const examples = ['flux plan', 'flux plan --json', 'flux plan --down --steps 1']

export async function run({ values, positionals, configFile, output, json }: CommandInput): Promise<number> {
  const project = await openProject(configFile)
  const direction = values.down === true ? 'down' : 'up'
  const plan = await previewPlan(project, { direction, target: positionals[0], steps: parseSteps(values.steps) })
  if (json) {
    output.printJson(plan)
  } else {
    if (plan.steps.length === 0) output.line(direction === 'up' ? 'nothing to apply' : 'nothing to revert')
    for (const [index, step] of plan.steps.entries()) {
      const uses = step.uses.length > 0 ? output.paint.dim(` uses ${step.uses.join(', ')}`) : ''
      const mode = output.paint.dim(step.transaction ? ' (in a transaction)' : '')
      output.line(
        `${String(index + 1).padStart(3)}. ${stepVerb(step).padEnd(8)} ${step.id}  ${output.paint.dim(`→ ${step.store}`)}${uses}${mode}`,
      )
    }
    for (const problem of plan.problems) output.line(`${output.paint.red(problem.kind.padEnd(12))} ${problem.message}`)
  }
  return plan.problems.length > 0 ? 3 : 0
}
