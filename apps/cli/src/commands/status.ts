import { type FleetStatus, FluxError, type ProjectStatus, readFleetStatus, readStatus } from '@flux/core'
import type { CommandInput } from '../command.ts'
import { countBy, formatHolder, statusLabel } from '../format.ts'
import type { Output } from '../output.ts'
import { openProject } from '../project.ts'

export const usage = 'flux status [--fleet <name> [--members]] [--json]'
export const description = `Shows where every migration stands in every store: applied, pending, dirty (started
and never finished), drift (changed after it was applied), missing (applied, file gone).
Reads each store's ledger once and takes no lease. A store that cannot be reached (within
5 s) is shown with its error and its migrations as unknown, the others as they are; the exit
code is then 1.
A fleet (fleet() in the config) is summed up: how many members are at its head, behind,
dirty or unreachable; --fleet <name> --members lists every member; --json gives them all.`
export const maxPositionals = 0
export const options = {
  fleet: { type: 'string', value: 'name', description: 'only this fleet' },
  members: { type: 'boolean', description: 'list every member of --fleet and where it stands' },
} as const
export const examples = ['flux status', 'flux status --json', 'flux status --fleet tenants --members']

export async function run({ configFile, output, json, values }: CommandInput): Promise<number> {
  const only = typeof values.fleet === 'string' ? values.fleet : undefined
  if (values.members === true && only === undefined) {
    throw new FluxError('USAGE', '--members needs --fleet: name the fleet whose members to list', {
      hint: 'e.g. `flux status --fleet tenants --members`',
    })
  }
  const project = await openProject(configFile)
  const status = await readStatus(project, { partial: true })
  const hasFleets = Object.keys(project.fleets ?? {}).length > 0
  const fleets = hasFleets || only !== undefined ? await readFleetStatus(project, only) : []
  const unreachable = status.stores.filter((store) => store.error)
  if (json) output.printJson(hasFleets ? { ...status, fleets } : status)
  else {
    printStatus(output, status, fleets.length > 0)
    for (const fleet of fleets) printFleet(output, fleet, values.members === true)
  }
  const unreachableMembers = fleets.reduce((sum, fleet) => sum + fleet.summary.unreachable, 0)
  if (unreachableMembers > 0 && unreachable.length === 0) {
    output.error(
      `${output.paint.red('error:')} ${unreachableMembers} fleet ${unreachableMembers === 1 ? 'member' : 'members'} could not be read: their status is unknown`,
    )
    return 1
  }
  if (unreachable.length === 0) return 0
  const names = unreachable.map((store) => `"${store.name}"`).join(', ')
  const one = unreachable.length === 1
  output.error(
    `${output.paint.red('error:')} ${one ? 'store' : 'stores'} ${names} could not be reached: the status of ${one ? 'its' : 'their'} migrations is unknown`,
  )
  const hint =
    one && unreachable[0]!.error!.hint
      ? unreachable[0]!.error!.hint
      : 'check that they are running and reachable from here, then run `flux status` again'
  output.error(`  ${output.paint.dim('hint:')} ${hint}`)
  // a store given up on may still be connecting (pg until its own connect timeout): that must
  // not hold the prompt once everything is written
  setTimeout(() => process.exit(), 200).unref()
  return 1
}

function printStatus(output: Output, status: ProjectStatus, fleets = false): void {
  for (const store of status.stores) {
    const rows = status.migrations.filter((row) => row.store === store.name)
    output.line(`${output.paint.bold(store.name)} ${output.paint.dim(store.target)}`)
    // the message names the store again: the line is under its name already
    const error = store.error?.message.replace(`store "${store.name}": `, '')
    if (error) output.line(output.paint.red(`  unreachable: ${error}`))
    else if (rows.length === 0) output.line(output.paint.dim('  no migrations'))
    for (const row of rows) {
      const when = row.appliedAt ? output.paint.dim(`  ${row.appliedAt.replace('T', ' ').slice(0, 19)}`) : ''
      output.line(`  ${statusLabel(output, row)} ${row.id}${when}`)
    }
    if (store.leasedBy && store.holderGone) {
      output.line(
        output.paint.yellow(
          `  held by pid ${store.leasedBy.pid} on this host, which is gone: the next \`flux up\` takes its lease over`,
        ),
      )
    } else if (store.leasedBy) {
      output.line(
        output.paint.yellow(`  leased by ${formatHolder(store.leasedBy)}: a dirty migration may still be running`),
      )
    }
  }
  // retired stores (in the config's `retired`): their migrations count as done and never run
  const active = new Set(status.stores.map((store) => store.name))
  const retired = new Map<string, ProjectStatus['migrations']>()
  for (const row of status.migrations) {
    if (row.status === 'retired' && !active.has(row.store))
      retired.set(row.store, [...(retired.get(row.store) ?? []), row])
  }
  for (const [name, rows] of retired) {
    output.line(`${output.paint.bold(name)} ${output.paint.dim('retired: its migrations count as done and never run')}`)
    for (const row of rows) output.line(`  ${statusLabel(output, row)} ${row.id}`)
  }
  const total = status.migrations.length
  output.line(
    total === 0
      ? fleets
        ? 'no migrations outside the fleets'
        : 'no migrations yet: `flux new <name>` writes one'
      : `${total} ${total === 1 ? 'migration' : 'migrations'}: ${countBy(status.migrations.map((row) => (row.changed ? 'changed' : row.status)))}`,
  )
}

/** `tenants (fleet, 3 migrations): 500 members: 497 at head, 2 behind, 1 dirty`, then each member with `--members`. */
function printFleet(output: Output, fleet: FleetStatus, members: boolean): void {
  const parts = [
    `${fleet.summary['at-head']} at head`,
    ...(fleet.summary.behind ? [output.paint.yellow(`${fleet.summary.behind} behind`)] : []),
    ...(fleet.summary.dirty ? [output.paint.red(`${fleet.summary.dirty} dirty`)] : []),
    ...(fleet.summary.unreachable ? [output.paint.red(`${fleet.summary.unreachable} unreachable`)] : []),
  ]
  output.line(
    `${output.paint.bold(fleet.fleet)} ${output.paint.dim(`fleet, ${fleet.migrations} ${fleet.migrations === 1 ? 'migration' : 'migrations'}`)}: ${fleet.members.length} members: ${parts.join(', ')}`,
  )
  if (!members) return
  for (const member of fleet.members) {
    const detail =
      member.state === 'unreachable'
        ? output.paint.red(`unreachable: ${member.error?.message}`)
        : member.state === 'dirty'
          ? output.paint.red(`dirty: ${member.dirty.join(', ')}`)
          : member.state === 'behind'
            ? output.paint.yellow(`behind: ${member.pending} pending`)
            : 'at head'
    output.line(`  ${member.member}  ${detail}`)
  }
}
