import { FluxError, resolveDirty } from '@flux/core'
import type { CommandInput } from '../command.ts'
import { openProject } from '../project.ts'

export const usage = 'flux resolve <migration> --applied | --rolled-back'
export const description = `Records what really happened to a dirty migration — one that started and never
finished because its runner crashed or its store went away. Look at the store first:
--applied if all its changes are there, --rolled-back if none are (it will run again).`
export const maxPositionals = 1
export const options = {
  applied: { type: 'boolean', description: 'its changes are all in the store: record it as applied' },
  'rolled-back': { type: 'boolean', description: 'none of its changes are in the store: record it as pending' },
} as const
export const examples = ['flux resolve app/20261121093000_add-photos --rolled-back']

export async function run({ values, positionals, configFile, output }: CommandInput): Promise<number> {
  const target = positionals[0]
  const applied = values.applied === true
  const rolledBack = values['rolled-back'] === true
  if (!target || applied === rolledBack) {
    throw new FluxError('USAGE', 'give a migration and exactly one of --applied or --rolled-back', {
      hint: 'e.g. `flux resolve add-photos --rolled-back`',
    })
  }
  const project = await openProject(configFile)
  await resolveDirty(project, target, applied ? 'applied' : 'rolled-back')
  output.line(`${target}: recorded as ${applied ? 'applied' : 'rolled back (pending)'}`)
  return 0
}
