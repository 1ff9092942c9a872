import type { CommandModule } from './command.ts'

export const GLOBAL_OPTIONS = `  --config <file>  config file (default: flux.config.ts, .mts, .js or .mjs in the current folder)
  --json           print machine-readable JSON on stdout (all but init, new, merge, graph, unlock)
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
    `Exit codes: 0 done, 1 failed or store unreachable, 2 bad usage/config/migrations, 3 integrity, 4 lease timeout, 130/143 cancelled with work left.`,
    '',
  ].join('\n')
}

/**
 * The candidate a mistyped `word` most likely meant: the closest within a third of the word's
 * length (`staus` → `status`, `--jsn` → `--json`, but not `x` → `up`), else the only one it
 * begins (`hist` → `history`).
 */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  const all = [...candidates]
  let best: string | undefined
  let bestDistance = Math.max(1, Math.floor(word.length / 3)) + 1
  for (const candidate of all) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase())
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  if (best !== undefined) return best
  const begun = word.replace(/^-+/, '').length >= 2 ? all.filter((candidate) => candidate.startsWith(word)) : []
  return begun.length === 1 ? begun[0] : undefined
}

/** Levenshtein distance, with a swap of two neighbours counting as one edit (`stauts`). */
export function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)])
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let value = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        value = Math.min(value, rows[i - 2]![j - 2]! + 1)
      rows[i]![j] = value
    }
  }
  return rows[a.length]![b.length]!
}
