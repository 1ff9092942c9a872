import { FluxError, markMigrations } from '@flux/core'
import type { CommandInput } from '../command.ts'
import { openProject } from '../project.ts'

export const usage = 'flux mark <migration> --applied | --pending'
export const description = `Changes a migration's record without running it. --applied records it as applied
(its parents must be applied: \`flux baseline\` records them too); --pending removes a
mistaken record (nothing that depends on it may be applied). Takes the store's lease.`
export const maxPositionals = 1
export const options = {
  applied: { type: 'boolean', description: 'record it as applied, without running it' },
  pending: { type: 'boolean', description: 'remove its record, without running its down()' },
} as const
export const examples = ['flux mark app/20261121093000_add-photos --applied', 'flux mark add-photos --pending']

export async function run({ values, positionals, configFile, output, json }: CommandInput): Promise<number> {
  const target = positionals[0]
  if (!target || (values.applied === true) === (values.pending === true)) {
    throw new FluxError('USAGE', 'give a migration and exactly one of --applied or --pending')
  }
  const project = await openProject(configFile)
  const result = await markMigrations(project, target, values.applied === true ? 'applied' : 'pending')
  if (json) output.printJson(result)
  for (const id of result.changed) output.line(`${id}: recorded as ${values.applied === true ? 'applied' : 'pending'}`)
  if (result.changed.length === 0) output.line('nothing to change')
  return 0
}
