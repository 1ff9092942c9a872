import { FluxError, markMigrations } from '@flux/core'
import type { CommandInput } from '../command.ts'
import { openProject } from '../project.ts'

export const usage = 'flux baseline <migration>'
export const description = `Adopts stores whose history was applied by other means: records <migration> and
everything it depends on as applied, without running them. Later migrations run as usual.`
export const maxPositionals = 1
export const options = {} as const
export const examples = ['flux baseline app/20261101090000_schema-as-of-today']

export async function run({ positionals, configFile, output, json }: CommandInput): Promise<number> {
  const target = positionals[0]
  if (!target) throw new FluxError('USAGE', 'name the migration to baseline at: `flux baseline <migration>`')
  const project = await openProject(configFile)
  const result = await markMigrations(project, target, 'applied', { withAncestors: true })
  if (json) output.printJson(result)
  output.line(`baseline at ${target}: ${result.changed.length} migrations recorded as applied`)
  return 0
}
