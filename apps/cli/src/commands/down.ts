import { FluxError, previewPlan } from '@flux/core'
import type { CommandInput } from '../command.ts'
import { CONCURRENCY_OPTION, parseConcurrency, parseSteps, runMigrate, TARGET_FORMS } from '../migrate-command.ts'
import { openProject } from '../project.ts'
import { confirmDown } from '../safe-down.ts'

export const usage = 'flux down <target> | --steps <n> [--yes] [--concurrency <n>] [--json]'
export const description = `Reverts applied migrations with their down(), the most recently applied first.
<target> stays applied and what lies above it is reverted (its applied descendants), never
another branch or component, except migrations that depend on a reverted one (through
\`parents\` or \`after\`): they go first, and each step says why it is there.
\`<component>@base\` reverts that component and its dependants, \`base\` everything.
A target that is not applied is an error (exit 2).
--steps <n> reverts the last <n> applied (exit 2 when fewer are applied).
When the plan reaches another component than the target's, or a migration whose down
destroys data (\`drop table\`, \`drop column\`, \`truncate\` in a .sql down section), it lists
them and asks on a terminal; elsewhere it refuses (exit 2) unless --yes is given.
Like \`up\`, it refuses to run (exit 3) while a migrations folder does not match its flux.sum.
Ctrl-C (SIGINT, SIGTERM) stops the run calmly: the migration in flight finishes, or rolls
back where it runs in a transaction and stops on ctx.signal; nothing after it starts, leases
are released, and the exit code is 130 (143 for SIGTERM) if something was left undone.
A second Ctrl-C quits at once.
Like \`up\`, it reverts stores that nothing orders side by side (dependants first in each lane);
--concurrency 1 reverts one at a time.
${TARGET_FORMS}`
export const maxPositionals = 1
export const options = {
  steps: { type: 'string', value: 'n', description: 'revert the last n applied migrations' },
  yes: { type: 'boolean', description: 'revert without asking, also other components and data-destroying steps' },
  concurrency: CONCURRENCY_OPTION,
} as const
export const examples = [
  'flux down --steps 1',
  'flux down app/20261121093000_add-photos',
  'flux down app@-1',
  'flux down @travel/images@base',
  'flux down base',
]

export async function run(input: CommandInput): Promise<number> {
  const steps = parseSteps(input.values.steps)
  // refused before anything is asked
  parseConcurrency(input.values.concurrency)
  const target = input.positionals[0]
  if ((steps === undefined) === (target === undefined)) {
    throw new FluxError('USAGE', 'give either a target or --steps <n>', { hint: 'e.g. `flux down --steps 1`' })
  }
  const project = await openProject(input.configFile)
  const plan = await previewPlan(project, { direction: 'down', target, steps })
  if (!(await confirmDown(project, plan, input.output, input.values.yes === true))) {
    input.output.error('nothing was reverted')
    return 1
  }
  return runMigrate(input, { direction: 'down', target, steps })
}
