// Entry of the `flux` command. Kept small and free of heavy imports: `flux --help` loads
// nothing else; each command and the adapters load only when that command runs.
import { parseArgs } from 'node:util'
import type { CommandModule } from './command.ts'
import { closest, GLOBAL_OPTIONS, renderHelp } from './help.ts'

const COMMANDS: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  init: { summary: 'create flux.config.ts and a migrations folder', load: () => import('./commands/init.ts') },
  new: { summary: 'write a new migration file', load: () => import('./commands/new.ts') },
  status: { summary: 'show where every migration stands in every store', load: () => import('./commands/status.ts') },
  plan: { summary: 'show what `up` or `down` would do, without doing it', load: () => import('./commands/plan.ts') },
  lint: {
    summary: 'check SQL migrations for long locks and lost data',
    load: () => import('./commands/lint.ts'),
  },
  up: { summary: 'apply pending migrations, up to a target', load: () => import('./commands/up.ts') },
  down: {
    summary: 'revert applied migrations, down to a target or by steps',
    load: () => import('./commands/down.ts'),
  },
  verify: {
    summary: 'check applied migrations and flux.sum against the files',
    load: () => import('./commands/verify.ts'),
  },
  sum: { summary: 'write flux.sum for the migrations folder', load: () => import('./commands/sum.ts') },
  accept: {
    summary: 'accept an intentional edit of applied migrations',
    load: () => import('./commands/accept.ts'),
  },
  resolve: { summary: 'record what really happened to a dirty migration', load: () => import('./commands/resolve.ts') },
  unlock: { summary: "free a store's lease held by a runner that is gone", load: () => import('./commands/unlock.ts') },
  heads: { summary: 'list the heads of every component', load: () => import('./commands/heads.ts') },
  merge: {
    summary: 'write a migration that joins the heads of a component',
    load: () => import('./commands/merge.ts'),
  },
  history: {
    summary: 'list applied migrations in the order they were applied',
    load: () => import('./commands/history.ts'),
  },
  graph: { summary: 'print the migration graph (mermaid or dot)', load: () => import('./commands/graph.ts') },
  mark: {
    summary: 'record a migration as applied or pending without running it',
    load: () => import('./commands/mark.ts'),
  },
  baseline: {
    summary: 'record a migration and all it depends on as applied',
    load: () => import('./commands/baseline.ts'),
  },
  import: {
    summary: "bring another tool's migrations and ledger into flux",
    load: () => import('./commands/import.ts'),
  },
}

const TOP_HELP = `flux — migrations for applications that keep their data in several stores

Usage: flux <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, command]) => `  ${name.padEnd(9)}${command.summary}`)
  .join('\n')}

Options for every command:
${GLOBAL_OPTIONS}

Exit codes:
  0    done
  1    a migration failed, or a store could not be reached
  2    bad usage, config, or migrations (nothing was applied)
  3    integrity: drift, missing, dirty, or a flux.sum mismatch
  4    a lease could not be acquired in time
  130  cancelled (Ctrl-C) with something left undone; 143 after SIGTERM

Run \`flux <command> --help\` for a command's own options.
`

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    if (name === 'help' && rest[0] && COMMANDS[rest[0]]) return main([rest[0], '--help'])
    process.stdout.write(TOP_HELP)
    return 0
  }
  if (name === '--version' || name === '-v') {
    const { createRequire } = await import('node:module')
    process.stdout.write(`${createRequire(import.meta.url)('../package.json').version}\n`)
    return 0
  }
  const entry = COMMANDS[name]
  if (!entry) {
    const meant = name.startsWith('-') ? undefined : closest(name, Object.keys(COMMANDS))
    return usageError(
      name.startsWith('-')
        ? `${name} comes before a command`
        : `unknown command "${name}"${meant ? `; did you mean "${meant}"?` : ''}`,
      name.startsWith('-')
        ? 'write the command first: flux <command> [options]'
        : 'run `flux --help` to see the commands',
    )
  }
  const command = await entry.load()
  const options = { ...command.options, ...GLOBAL_OPTION_SPEC }
  const args = relativeTargetsAsPositionals(rest, options)
  const problem = argumentProblem(name, args, options)
  if (problem) return usageError(problem, `run \`flux ${name} --help\` to see its options`)
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true })
  } catch {
    // argumentProblem() finds what strict parsing refuses; this is a safety net
    return usageError(`flux ${name} could not read its options: ${rest.join(' ')}`, `run \`flux ${name} --help\``)
  }
  if (parsed.values.help) {
    process.stdout.write(renderHelp(command))
    return 0
  }
  if (parsed.positionals.length > command.maxPositionals) {
    process.stderr.write(
      `error: too many arguments: ${parsed.positionals.slice(command.maxPositionals).join(' ')}\n  hint: run \`flux ${name} --help\`\n`,
    )
    return 2
  }
  const { runCommand } = await import('./run-command.ts')
  return runCommand(name, command, parsed.values as Record<string, string | boolean | undefined>, parsed.positionals)
}

/**
 * `flux down -1`: a relative target looks like a short option to parseArgs, so it goes after
 * `--`, where arguments are positional (unless it is the value of a string option).
 */
function relativeTargetsAsPositionals(args: string[], options: Record<string, { type: string }>): string[] {
  if (args.includes('--')) return args
  const relative = (arg: string, index: number) => {
    const previous = index > 0 ? args[index - 1]! : ''
    return /^-\d+$/.test(arg) && !(previous.startsWith('--') && options[previous.slice(2)]?.type === 'string')
  }
  const moved = args.filter(relative)
  if (moved.length === 0) return args
  return [...args.filter((arg, index) => !relative(arg, index)), '--', ...moved]
}

function usageError(message: string, hint: string): number {
  process.stderr.write(`error: ${message}\n  hint: ${hint}\n`)
  return 2
}

/**
 * What is wrong with a command's options, in flux's words (Node's `parseArgs` messages speak
 * of its own API): an unknown option, with the closest known one; a string option without
 * its value; a value given to an option that takes none.
 */
function argumentProblem(
  name: string,
  args: string[],
  options: Record<string, { type: 'string' | 'boolean'; value?: string }>,
): string | undefined {
  const { tokens } = parseArgs({ args, options, allowPositionals: true, strict: false, tokens: true })
  for (const token of tokens ?? []) {
    if (token.kind !== 'option') continue
    const spec = options[token.name]
    if (!spec) {
      // a one-letter option is too short to guess from
      const long = Object.keys(options).map((option) => `--${option}`)
      const meant = token.rawName.startsWith('--') ? closest(token.rawName, long) : undefined
      return `unknown option ${token.rawName} for flux ${name}${meant ? `; did you mean ${meant}?` : ''}`
    }
    const flag = `--${token.name}`
    if (spec.type === 'string') {
      if (token.value === undefined)
        return `option ${flag} of flux ${name} needs a value: ${flag} <${spec.value ?? 'value'}>`
      if (!token.inlineValue && token.value.startsWith('-') && !/^-\d+$/.test(token.value)) {
        return `option ${flag} of flux ${name} needs a value, but is followed by ${token.value}`
      }
    } else if (token.value !== undefined) {
      return `option ${flag} of flux ${name} takes no value (got ${flag}=${token.value})`
    }
  }
  return undefined
}

const GLOBAL_OPTION_SPEC = {
  config: { type: 'string', value: 'file' },
  json: { type: 'boolean' },
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const

process.exitCode = await main(process.argv.slice(2))
