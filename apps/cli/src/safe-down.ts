import { createInterface } from 'node:readline/promises'
import { describeReason, FluxError, type Plan, type Project } from '@flux/core'
import type { Output } from './output.ts'

/** Statements in a `down` section that destroy data. */
const DESTRUCTIVE = /\b(drop\s+table|drop\s+column|truncate)\b/i

/** Why a `down` plan needs a confirmation: the steps of other components, and those whose down() destroys data. */
export function downRisks(project: Project, plan: Plan): string[] {
  const risks: string[] = []
  // the target's own component: the steps that are there because of the target itself
  const home = new Set(
    plan.steps
      .filter((step) => step.reason && ['above', 'component', 'relative'].includes(step.reason.kind))
      .map((step) => step.component),
  )
  const components = new Set(plan.steps.map((step) => step.component))
  for (const step of plan.steps) {
    const other = home.size > 0 ? !home.has(step.component) : components.size > 1
    if (other) {
      const why = step.reason ? `: ${describeReason(step.reason)}` : ''
      risks.push(`${step.id} is in another component (${step.component})${why}`)
    }
    const definition = project.graph.definitions.get(step.id)
    const declared = definition?.destroysData
    const statement = (definition?.sql?.down ?? []).find((text) => DESTRUCTIVE.test(text))
    if (declared) risks.push(`${step.id} destroys data${typeof declared === 'string' ? `: ${declared}` : ''}`)
    else if (statement) risks.push(`${step.id} destroys data: ${DESTRUCTIVE.exec(statement)![0].toLowerCase()}`)
  }
  return risks
}

/**
 * Asks before a `down` that reaches another component or destroys data: on a terminal it
 * asks, elsewhere it refuses unless `--yes` was given (a script must say it means it).
 */
export async function confirmDown(project: Project, plan: Plan, output: Output, yes: boolean): Promise<boolean> {
  const risks = downRisks(project, plan)
  if (risks.length === 0 || yes) return true
  for (const risk of risks) output.error(`  ${risk}`)
  if (!process.stdin.isTTY || !output.interactive) {
    throw new FluxError(
      'USAGE',
      `down would revert ${plan.steps.length} migration${plan.steps.length === 1 ? '' : 's'}, some in another component or destroying data; nothing was reverted`,
      { hint: 'check `flux plan --down` and pass --yes to go ahead', details: { risks } },
    )
  }
  const prompt = createInterface({ input: process.stdin, output: process.stderr })
  try {
    const count = plan.steps.length
    const answer = await prompt.question(`revert ${count} migration${count === 1 ? '' : 's'}? [y/N] `)
    return /^y(es)?$/i.test(answer.trim())
  } finally {
    prompt.close()
  }
}
