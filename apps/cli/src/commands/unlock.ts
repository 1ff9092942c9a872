import { FluxError, unlock } from '@flux/core'
import type { CommandInput } from '../command.ts'
import { formatHolder } from '../format.ts'
import { openProject } from '../project.ts'

export const usage = 'flux unlock <store>'
export const description = `Frees a store's lease, whoever holds it. Use it only when the holder is gone (a runner
killed on another machine); a live runner that loses its lease stops before its next step.`
export const maxPositionals = 1
export const options = {} as const
export const examples = ['flux unlock photos']

export async function run({ positionals, configFile, output }: CommandInput): Promise<number> {
  const store = positionals[0]
  if (!store) throw new FluxError('USAGE', 'name the store to unlock: `flux unlock <store>`')
  const project = await openProject(configFile, { configOnly: true })
  const holder = await unlock(project, store)
  output.line(
    holder ? `unlocked store "${store}" (was held by ${formatHolder(holder)})` : `store "${store}" was not leased`,
  )
  return 0
}
