import { verify } from '@flux/core'
import type { CommandInput } from '../command.ts'
import { statusLabel } from '../format.ts'
import { openProject } from '../project.ts'

export const usage = 'flux verify [--json]'
export const description = `Checks integrity before a deploy: every applied migration against its file (drift,
missing), dirty migrations, every migrations folder against its flux.sum, and components
with several heads (unless they allow branches). Exits 3 on any problem, 0 when all is well.`
export const maxPositionals = 0
export const options = {} as const

export async function run({ configFile, output, json }: CommandInput): Promise<number> {
  const project = await openProject(configFile)
  const report = await verify(project)
  if (json) {
    output.printJson(report)
  } else {
    for (const row of report.migrations) {
      const detail =
        row.status === 'drift'
          ? `${row.file} changed after it was applied`
          : row.status === 'missing'
            ? 'applied, but its file is gone'
            : 'started and never finished'
      output.line(`${statusLabel(output, row)} ${row.id} in store "${row.store}": ${detail}`)
    }
    for (const problem of report.sums) output.line(`${output.paint.red('flux.sum'.padEnd(8))} ${problem.message}`)
    for (const branch of report.branches) {
      output.line(
        `${output.paint.red('branches')} ${branch.component} has ${branch.heads.length} heads: ${branch.heads.join(', ')}`,
      )
    }
    const problems = report.migrations.length + report.sums.length + report.branches.length
    output.line(
      report.ok
        ? output.paint.green('verified: migrations and flux.sum match the stores')
        : `${problems} ${problems === 1 ? 'problem' : 'problems'}`,
    )
  }
  if (!report.ok) {
    const first = report.migrations[0]
    const hint = first
      ? first.status === 'dirty'
        ? '`flux resolve <id> --applied | --rolled-back` once you know what happened'
        : first.status === 'drift'
          ? `restore the file and put the change in a new migration, or, if the edit is intended, \`flux accept ${first.id}\``
          : 'restore the applied migration files; put changes in new migrations'
      : report.sums.length > 0
        ? 'run `flux sum` if the change to the folder is intended'
        : `join the heads with \`flux merge ${report.branches[0]?.component}\`, or allow branches for it in the config`
    output.error(
      `${output.paint.red('error:')} verify found problems${first?.file ? ` (first: ${first.file})` : ''}\n  hint: ${hint}`,
    )
  }
  return report.ok ? 0 : 3
}
