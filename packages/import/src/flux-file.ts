import type { ForeignMigration } from './import-format.ts'

/**
 * The flux `.sql` file of an imported migration: a header (store, parent, transaction,
 * repeatable, where it came from), then `-- flux:up` and the tool's up SQL byte for byte, then
 * `-- flux:down` and its down SQL byte for byte. A section that does not end with a line
 * break gets one, so that the next directive starts a line of its own.
 */
export function fluxFileText(
  migration: ForeignMigration,
  options: { tool: string; store: string; parent: string | undefined },
): string {
  const header = [`-- flux:store ${options.store}`]
  header.push(
    options.parent === undefined
      ? `-- flux:parents (none: the first migration imported from ${options.tool})`
      : `-- flux:parents ${options.parent}`,
  )
  if (!migration.transaction) header.push(`-- flux:transaction off (${migration.transactionReason ?? options.tool})`)
  if (migration.repeatable) header.push('-- flux:repeatable true')
  header.push(`-- imported by \`flux import ${options.tool}\` from ${migration.sources.join(', ')}`)
  const up = `-- flux:up\n${endLine(migration.up)}`
  const down = migration.down === undefined ? '' : `-- flux:down\n${endLine(migration.down)}`
  return `${header.join('\n')}\n${up}${down}`
}

function endLine(text: string): string {
  return text === '' || text.endsWith('\n') ? text : `${text}\n`
}
