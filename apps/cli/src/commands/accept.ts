import { acceptChanges, FluxError } from '@flux/core'
import type { CommandInput } from '../command.ts'
import { openProject } from '../project.ts'

export const usage = 'flux accept <migration>… [--json]'
export const description = `Accepts an intentional edit of applied migrations (Flyway's \`repair\`, Liquibase's
\`clear-checksums\`): for each one named whose file changed since it was applied (drift), records
the file's checksum in its store's ledger and updates its line in the folder's flux.sum, and
prints the old and new checksum. Nothing runs: the store keeps what the old version did, so
put changes the store still needs in a new migration. Takes the stores' leases. Refuses a
migration that is not applied (exit 2); one whose file did not change is left as it is.`
export const maxPositionals = Number.POSITIVE_INFINITY
export const options = {} as const
export const examples = ['flux accept app/20261121093000_add-photos', 'flux accept add-photos add-hotels']

export async function run({ positionals, configFile, output, json }: CommandInput): Promise<number> {
  if (positionals.length === 0) {
    throw new FluxError('USAGE', 'name the migrations whose edit to accept: `flux accept <migration>…`', {
      hint: '`flux verify` lists the applied migrations whose file changed (drift)',
    })
  }
  const project = await openProject(configFile)
  const result = await acceptChanges(project, positionals)
  if (json) {
    output.printJson(result)
    return 0
  }
  for (const change of result.accepted) {
    output.line(`${change.id}: ${short(change.from)} → ${short(change.to)}`)
  }
  for (const folder of result.skippedSums) {
    output.line(`skipped ${folder}/flux.sum: an installed package's (in node_modules)`)
  }
  for (const file of result.sums) output.line(`updated ${file}`)
  if (result.accepted.length === 0) {
    output.line(`nothing to accept: ${result.unchanged.join(', ')} did not change since applied`)
  } else if (result.unchanged.length > 0) {
    output.line(`unchanged since applied: ${result.unchanged.join(', ')}`)
  }
  return 0
}

/** `sha256:1a2b3c4d5e6f…`: enough to tell two checksums apart; `--json` has them whole. */
function short(checksum: string): string {
  const [algorithm, hex = ''] = checksum.split(':')
  return `${algorithm}:${hex.slice(0, 12)}…`
}
