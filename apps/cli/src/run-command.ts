import { FluxError, projectFrame } from '@flux/core'
import type { CommandModule } from './command.ts'
import { createOutput, type Output } from './output.ts'

/**
 * The one error boundary of the CLI: a `FluxError` becomes its message, hint and exit code;
 * anything else is an internal error, reported with its stack. SIGINT and SIGTERM abort
 * the command's signal, so a run stops between steps and releases its leases; a second
 * signal exits at once.
 */
export async function runCommand(
  name: string,
  command: CommandModule,
  values: Record<string, string | boolean | undefined>,
  positionals: string[],
): Promise<number> {
  const json = values.json === true
  const debug = values.debug === true || process.env.FLUX_DEBUG === '1'
  const output = createOutput(json)
  const controller = new AbortController()
  let firstSignalAt = 0
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      // Ctrl-C reaches every process of the terminal's foreground group, and `npx`/`npm exec`
      // forward it once more: a second one within 300 ms is the same keypress
      if (performance.now() - firstSignalAt < 300) return
      process.exit(signal === 'SIGINT' ? 130 : 143)
    }
    firstSignalAt = performance.now()
    output.error(output.paint.yellow(`${signal}: stopping after the current step (again to quit at once)`))
    controller.abort(new FluxError('INTERRUPTED', `cancelled by ${signal}`, { details: { signal } }))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    return await command.run({
      values,
      positionals,
      output,
      configFile: typeof values.config === 'string' ? values.config : undefined,
      json,
      signal: controller.signal,
    })
  } catch (error) {
    output.live(undefined)
    if (FluxError.is(error)) {
      if (json) output.printJson({ ok: false, error: error.toJSON() })
      printError(output, error, debug)
      return error.exitCode
    }
    output.error(
      `${output.paint.red('internal error')} in \`flux ${name}\`: ${(error as Error)?.message ?? String(error)}`,
    )
    output.error((error as Error)?.stack ?? '')
    output.error('this is a bug in flux; please report it with the output above')
    return 1
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

/** Prints a FluxError for humans on stderr: message, hint, and with --debug its causes. */
export function printError(
  output: Output,
  error: FluxError,
  debug = process.env.FLUX_DEBUG === '1' || process.argv.includes('--debug'),
): void {
  output.error(`${output.paint.red('error:')} ${error.message}`)
  const location = error.location ?? projectFrame(error, process.cwd(), process.cwd())
  if (location) output.error(`  ${output.paint.dim('where:')} ${location}`)
  if (error.hint) output.error(`  ${output.paint.dim('hint:')} ${error.hint}`)
  if (debug) output.error(causeChain(error))
}

function causeChain(error: unknown): string {
  const lines: string[] = []
  for (let current: unknown = error; current instanceof Error; current = current.cause) {
    lines.push(current.stack ?? current.message)
  }
  return lines.join('\ncaused by: ')
}
