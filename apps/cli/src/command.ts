import type { Output } from './output.ts'

export interface OptionSpec {
  type: 'string' | 'boolean'
  short?: string
  /** One line for `--help`; `<value>` names the argument of a string option. */
  description: string
  value?: string
}

/** What every command module exports. */
export interface CommandModule {
  /** `flux up [target]`. */
  usage: string
  /** A paragraph for `--help`. */
  description: string
  options: Record<string, OptionSpec>
  /** Positional arguments accepted. */
  maxPositionals: number
  /** Examples shown in `--help`. */
  examples?: string[]
  run(input: CommandInput): Promise<number>
}

export interface CommandInput {
  values: Record<string, string | boolean | undefined>
  positionals: string[]
  output: Output
  /** `--config`, when given. */
  configFile: string | undefined
  json: boolean
  /** Set on SIGINT/SIGTERM. */
  signal: AbortSignal
}
