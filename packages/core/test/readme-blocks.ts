// The README's code blocks, for tests that run an example exactly as the README shows it
// (apps/cli/test/readme.test.ts checks that every block is run by some test).
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const README = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'README.md')

/** The text of the one fenced block of README.md whose first line is `firstLine`, without that line. */
export function readmeExample(firstLine: string): string {
  const blocks = [...readFileSync(README, 'utf8').matchAll(/^```\w*\n([\s\S]*?)^```$/gm)].map((match) => match[1]!)
  const found = blocks.filter((block) => block.split('\n')[0] === firstLine)
  if (found.length !== 1)
    throw new Error(`README.md: ${found.length} code blocks start with ${JSON.stringify(firstLine)}`)
  return found[0]!.slice(firstLine.length + 1)
}
