import { FluxError, previewPlan } from '@flux/core'
import type { CommandInput } from '../command.ts'
import { FLEET_OPTIONS, parseFleetOptions, runFleets } from '../fleet-command.ts'
import { CONCURRENCY_OPTION, parseConcurrency, parseSteps, runMigrate, TARGET_FORMS } from '../migrate-command.ts'
import { openProject } from '../project.ts'
import { printError } from '../run-command.ts'
import { confirmDown } from '../safe-down.ts'

export const usage =
  'flux down <target> | --steps <n> [--yes] [--concurrency <n>] [--fleet <name> [--member <name>] [--keep-going]] [--json]'
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
Fleets are left alone, unless --fleet <name> is given: then only that fleet's members are
reverted (to <target>, or by --steps, in each member), --concurrency members at once, and
only with --yes.
${TARGET_FORMS}`
export const maxPositionals = 1
export const options = {
  steps: { type: 'string', value: 'n', description: 'revert the last n applied migrations' },
  yes: { type: 'boolean', description: 'revert without asking, also other components and data-destroying steps' },
  concurrency: CONCURRENCY_OPTION,
  ...FLEET_OPTIONS,
} as const
export const examples = [
  'flux down --steps 1',
  'flux down app/20261121093000_add-photos',
  'flux down app@-1',
  'flux down @travel/images@base',
  'flux down base',
  'flux down --steps 1 --fleet tenants --yes',
]

export async function run(input: CommandInput): Promise<number> {
  const steps = parseSteps(input.values.steps)
  // refused before anything is asked
  parseConcurrency(input.values.concurrency)
  const target = input.positionals[0]
  if ((steps === undefined) === (target === undefined)) {
    throw new FluxError('USAGE', 'give either a target or --steps <n>', { hint: 'e.g. `flux down --steps 1`' })
  }
  const fleet = parseFleetOptions(input.values)
  if (fleet.fleet !== undefined) return downFleet(input, { target, steps, ...fleet })
  const project = await openProject(input.configFile)
  const plan = await previewPlan(project, { direction: 'down', target, steps })
  if (!(await confirmDown(project, plan, input.output, input.values.yes === true))) {
    input.output.error('nothing was reverted')
    return 1
  }
  return runMigrate(input, { direction: 'down', target, steps })
}

/** `flux down --fleet <name>`: the fleet's members only, each to the target; refused without --yes. */
async function downFleet(
  input: CommandInput,
  options: {
    target: string | undefined
    steps: number | undefined
    fleet: string | undefined
    member: string | undefined
    keepGoing: boolean
  },
): Promise<number> {
  if (input.values.yes !== true) {
    throw new FluxError(
      'USAGE',
      `flux down over the fleet "${options.fleet}" reverts migrations in every member: it needs --yes`,
      {
        hint: '`flux status --fleet <name> --members` shows where each member stands; add --member <name> for one member',
      },
    )
  }
  const project = await openProject(input.configFile, { checkSums: true })
  const outcome = await runFleets(project, input.output, {
    direction: 'down',
    ...options,
    concurrency: parseConcurrency(input.values.concurrency),
    signal: input.signal,
    json: input.json,
  })
  if (input.json)
    input.output.printJson({ ok: !outcome.failure, fleets: outcome.reports, error: outcome.failure?.toJSON() })
  if (outcome.failure) {
    printError(input.output, outcome.failure)
    return outcome.failure.exitCode
  }
  return 0
}
