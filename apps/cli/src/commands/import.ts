import { FluxError } from '@flux/core'
import type { CommandInput } from '../command.ts'
import { openProject } from '../project.ts'

export const usage = 'flux import <tool> --store <store> [--from <dir>] [--component <name>] [--dry-run]'
export const description = `Brings another tool's history into flux: reads its migrations folder (--from, default
the tool's own) and writes one .sql migration per migration into the migrations folder (or
the component's), its SQL byte for byte, in the tool's order, with its down and its
transaction needs; updates flux.sum. Then reads the tool's own ledger in the store and records
in flux's ledger, without running them, the migrations it had applied: \`flux up\` afterwards
runs exactly what it had not. Stops before writing anything on a dirty or failed entry, or an
entry without a file. The tool's ledger is left as it is. Running it again imports only what is
new. Tools: golang-migrate, drizzle, prisma, diesel, flyway, sqitch, migrate-mongo
(wrapped as .mjs migrations); knex, node-pg-migrate, alembic, django, umzug (ledger only: one
baseline migration stands for what their ledger applied; their code is not brought over).`
export const maxPositionals = 1
export const options = {
  store: { type: 'string', value: 'store', description: "the store the tool's migrations ran on (needed)" },
  from: { type: 'string', value: 'dir', description: "the tool's migrations folder (default: the tool's own)" },
  component: { type: 'string', value: 'name', description: "write into this component's folder (default: the app's)" },
  'dry-run': { type: 'boolean', description: 'print the files it would write and the migrations it would record' },
} as const
export const examples = [
  'flux import golang-migrate --store catalog --from db/migrations --dry-run',
  'flux import golang-migrate --store catalog --from db/migrations',
  'flux import prisma --store catalog                 # reads prisma/migrations',
  'flux import flyway --store catalog --from sql',
]

export async function run({ positionals, values, configFile, output, json }: CommandInput): Promise<number> {
  const tool = positionals[0]
  const { importHistory, IMPORT_FORMATS } = await import('@flux/import')
  if (!tool || typeof values.store !== 'string') {
    throw new FluxError('USAGE', 'name the tool and the store: `flux import <tool> --store <store>`', {
      hint: `tools: ${IMPORT_FORMATS.map((format) => format.tool).join(', ')}`,
    })
  }
  const project = await openProject(configFile, { allowMissingMigrations: true })
  const result = await importHistory(project, {
    tool,
    store: values.store,
    from: typeof values.from === 'string' ? values.from : undefined,
    component: typeof values.component === 'string' ? values.component : undefined,
    dryRun: values['dry-run'] === true,
    reload: () => openProject(configFile, { allowMissingMigrations: true }),
  })
  const unreachable = 'unreachable' in result.ledger
  if (json) {
    output.printJson(result)
    return unreachable ? 1 : 0
  }
  for (const skipped of result.skipped) output.line(`skipped  ${result.from}/${skipped.file}: ${skipped.reason}`)
  if (result.nothing) {
    const count = `${result.files.length} ${tool} migration${result.files.length === 1 ? '' : 's'}`
    const ledger =
      'table' in result.ledger
        ? `flux's ledger of store "${result.store}" has the ${result.ledger.applied} ${tool} applied`
        : `${tool} has no ledger in store "${result.store}" (nothing applied there)`
    output.line(`nothing to import: the ${count} of ${result.from} are in ${result.folder}, and ${ledger}`)
    return 0
  }
  const writing = result.files.filter((file) => file.write)
  const verb = result.dryRun ? 'would write' : 'wrote'
  for (const file of writing) output.line(`${result.dryRun ? 'write' : 'wrote'}    ${file.file}`)
  for (const id of result.recorded) output.line(`${result.dryRun ? 'record' : 'recorded'} ${id} as applied (not run)`)
  if (result.baseline) {
    const count = `${result.baseline.applied.length} ${tool} migration${result.baseline.applied.length === 1 ? '' : 's'}`
    output.line(
      `baseline for the ${count} of ${result.baseline.table}: their code stays in ${result.from} and flux does not run it; write the next migrations with \`flux new\``,
    )
  }
  output.line(
    `${verb} ${writing.length} of ${result.files.length} migrations from ${result.from} into ${result.folder}; ${ledgerLine(result)}`,
  )
  if (unreachable) {
    output.error(
      `store "${result.store}" could not be reached (${(result.ledger as { unreachable: string }).unreachable}): ${tool}'s ledger was not read and nothing was recorded as applied\n  hint: run this import again when the store is reachable, BEFORE \`flux up\` (which would run every imported migration)`,
    )
    return 1
  }
  if (result.dryRun) output.line('dry run: nothing was written')
  else output.line('next: `flux status` shows what is pending; `flux up` runs it')
  return 0
}

function ledgerLine(result: Awaited<ReturnType<typeof import('@flux/import').importHistory>>): string {
  const verb = result.dryRun ? 'would record' : 'recorded'
  if ('table' in result.ledger) {
    return `${result.tool}'s ${result.ledger.table} has ${result.ledger.applied} applied; ${verb} ${result.recorded.length} in flux's ledger`
  }
  if ('absent' in result.ledger) return `${result.tool} has no ledger in store "${result.store}": nothing applied there`
  return 'the ledger was not read'
}
