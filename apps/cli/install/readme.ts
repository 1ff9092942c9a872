// The README's "Using flux in a project" section, read at run time: the install test runs its
// commands as they are written there, never a copy of them.
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const README = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'README.md')
const HEADING = '## Using flux in a project'

/** One row of the table under the quickstart: how to use another store instead of a directory. */
export interface AdapterRow {
  /** `@flux/pg` */
  install: string
  /** `npx flux init --adapter pg` */
  init: string
  /** the environment variables the config reads: `DATABASE_URL` */
  variables: string[]
}

export interface Quickstart {
  /** The commands of the ```sh block right under the heading, one a line, comments included. */
  commands: string[]
  /** The table under the block, by package: `@flux/fs`, `@flux/pg`… */
  adapters: Map<string, AdapterRow>
}

export function readQuickstart(file = README): Quickstart {
  const lines = readFileSync(file, 'utf8').split('\n')
  const heading = lines.indexOf(HEADING)
  if (heading === -1) throw new Error(`${file} has no "${HEADING}" heading`)
  const end = lines.findIndex((line, index) => index > heading && /^## /.test(line))
  const section = lines.slice(heading + 1, end === -1 ? undefined : end)
  const open = section.findIndex((line) => line.trim() !== '')
  if (section[open] !== '```sh') {
    throw new Error(`${file}: the first thing under "${HEADING}" must be a \`\`\`sh block, found "${section[open]}"`)
  }
  const close = section.indexOf('```', open + 1)
  if (close === -1) throw new Error(`${file}: the \`\`\`sh block under "${HEADING}" is not closed`)
  const commands = section.slice(open + 1, close).filter((line) => line.trim() !== '')

  const adapters = new Map<string, AdapterRow>()
  // the first table after the block: its lines up to the first that is not a row
  const after = section.slice(close + 1)
  const first = after.findIndex((line) => line.startsWith('|'))
  const rows = first === -1 ? [] : after.slice(first)
  const last = rows.findIndex((line) => !line.startsWith('|'))
  const table = last === -1 ? rows : rows.slice(0, last)
  const header = cells(table[0] ?? '')
  const column = (name: RegExp) => header.findIndex((cell) => name.test(cell))
  const [install, init, reads] = [column(/^install$/), column(/flux init/), column(/reads/)]
  if (install === -1 || init === -1 || reads === -1) {
    throw new Error(`${file}: the table under the quickstart needs the columns install, \`flux init\` and "reads"`)
  }
  for (const row of table.slice(2).map(cells)) {
    adapters.set(code(row[install]!), {
      install: code(row[install]!),
      init: code(row[init]!),
      variables: [...row[reads]!.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((match) => match[1]!),
    })
  }
  return { commands, adapters }
}

/**
 * The quickstart for another store, changed exactly as the table says: its package installed
 * instead of `@flux/fs`, and its `flux init` cell run instead of the directory's.
 */
export function quickstartFor(quickstart: Quickstart, adapter: string): string[] {
  const fs = quickstart.adapters.get('@flux/fs')
  const row = quickstart.adapters.get(adapter)
  if (!fs || !row) throw new Error(`the table under the quickstart has no row for ${fs ? adapter : '@flux/fs'}`)
  let installs = 0
  let inits = 0
  const commands = quickstart.commands.map((line) => {
    if (/^npm install\b/.test(line) && line.includes(fs.install)) {
      installs++
      return line.replace(fs.install, row.install)
    }
    if (commandOf(line) === fs.init) {
      inits++
      return line.replace(fs.init, row.init)
    }
    return line
  })
  if (installs !== 1 || inits !== 1) {
    throw new Error(`the quickstart should install ${fs.install} once and run \`${fs.init}\` once`)
  }
  return commands
}

/** A line without its trailing `# comment`. */
export function commandOf(line: string): string {
  return line.replace(/\s+#.*$/, '').trim()
}

function cells(line: string): string[] {
  return line
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split('|')
    .map((cell) => cell.trim())
}

function code(cell: string): string {
  return cell.match(/^`([^`]*)`$/)?.[1] ?? cell
}
