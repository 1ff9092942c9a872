import type { CommandModule } from './command.ts'

export const GLOBAL_OPTIONS = `  --config <file>  config file (default: flux.config.ts, .mts, .js or .mjs in the current folder)
  --json           print machine-readable JSON on stdout (status, plan, up, down, verify)
  --debug          show stack traces and causes of errors
  -h, --help       show help`

export function renderHelp(command: CommandModule): string {
  const options = Object.entries(command.options).map(([option, spec]) => {
    const flag = `${spec.short ? `-${spec.short}, ` : ''}--${option}${spec.type === 'string' ? ` <${spec.value ?? 'value'}>` : ''}`
    return `  ${flag.padEnd(23)}${spec.description}`
  })
  return [
    `Usage: ${command.usage}`,
    '',
    command.description,
    '',
    ...(options.length > 0 ? ['Options:', ...options, ''] : []),
    'Options for every command:',
    GLOBAL_OPTIONS,
    '',
    ...(command.examples?.length ? ['Examples:', ...command.examples.map((example) => `  ${example}`), ''] : []),
    `Exit codes: 0 done, 1 failed or store unreachable, 2 bad usage/config/migrations, 3 integrity, 4 lease timeout.`,
    '',
  ].join('\n')
}
