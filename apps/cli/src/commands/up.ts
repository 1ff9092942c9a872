import type { CommandInput } from '../command.ts'
import { FLEET_OPTIONS } from '../fleet-command.ts'
import { CONCURRENCY_OPTION, runMigrate, TARGET_FORMS } from '../migrate-command.ts'

export const usage = 'flux up [target] [--concurrency <n>] [--fleet <name> [--member <name>]] [--keep-going] [--json]'
export const description = `Applies pending migrations in every store, in graph order: all of them, or only
<target> and what it depends on.
Each store is leased while it is migrated, so concurrent runs wait rather than collide.
Stores that nothing orders are migrated side by side, in lanes (\`flux plan\` shows them): two
migrations run at once only when their stores (home and \`uses\`) do not overlap and no
\`parents\` or \`after\` edge orders them; --concurrency 1 runs one at a time, in plan order.
A failure stops new work in every lane; migrations running in other lanes finish.
A dirty, drifted or missing migration stops it before anything runs (exit 3), and so
does a migrations folder that no longer matches its flux.sum (\`flux sum\` accepts a change).
Ctrl-C (SIGINT, SIGTERM) stops the run calmly: the migration in flight finishes, or rolls
back where it runs in a transaction and stops on ctx.signal; nothing after it starts, leases
are released, and the exit code is 130 (143 for SIGTERM) if something was left undone.
A second Ctrl-C quits at once.
Fleets (stores made with fleet(): a schema, database or prefix per tenant) run after the
rest: every member in turn, --concurrency members at once, each with its own ledger and
lease; a member another runner holds is tried again later, so several runners can share a
fleet. A failed member stops new members (--keep-going goes on and names every failure).
${TARGET_FORMS}`
export const maxPositionals = 1
export const options = { concurrency: CONCURRENCY_OPTION, ...FLEET_OPTIONS } as const
export const examples = [
  'flux up',
  'flux up app/20261121093000_add-photos',
  'flux up app@+1',
  'flux up heads --json',
  'flux up --concurrency 1',
  'flux up --fleet tenants --member acme',
  'flux up --keep-going',
]

export function run(input: CommandInput): Promise<number> {
  return runMigrate(input, { direction: 'up', target: input.positionals[0], steps: undefined })
}
