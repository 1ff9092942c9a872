import { FluxError, resolveAutomatically, resolveDirty } from '@flux/core'
import type { CommandInput } from '../command.ts'
import { openProject } from '../project.ts'

export const usage = 'flux resolve <migration> --applied | --rolled-back  |  flux resolve --auto'
export const description = `Records what really happened to a dirty migration — one that started and never
finished because its runner crashed or its store went away. Look at the store first:
--applied if all its changes are there, --rolled-back if none are (it will run again).
--auto lets each dirty migration's verify() look at the store and decide; those without
verify(), or whose verify() cannot tell, stay dirty for you (exit 3).`
export const maxPositionals = 1
export const options = {
  applied: { type: 'boolean', description: 'its changes are all in the store: record it as applied' },
  'rolled-back': { type: 'boolean', description: 'none of its changes are in the store: record it as pending' },
  auto: { type: 'boolean', description: 'decide every dirty migration by its verify()' },
} as const
export const examples = ['flux resolve app/20261121093000_add-photos --rolled-back']

export async function run({ values, positionals, configFile, output, json, signal }: CommandInput): Promise<number> {
  if (values.auto === true) {
    if (positionals.length > 0 || values.applied === true || values['rolled-back'] === true) {
      throw new FluxError(
        'USAGE',
        '--auto decides every dirty migration: give no migration and no --applied/--rolled-back',
      )
    }
    const results = await resolveAutomatically(await openProject(configFile), signal)
    if (json) output.printJson({ migrations: results })
    if (results.length === 0) output.line('no dirty migration')
    for (const result of results) {
      const what =
        result.outcome === 'unsure'
          ? `left dirty: ${result.reason}; decide with --applied or --rolled-back`
          : `recorded as ${result.outcome}`
      output.line(`${result.id}: ${what}`)
    }
    return results.some((result) => result.outcome === 'unsure') ? 3 : 0
  }
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
