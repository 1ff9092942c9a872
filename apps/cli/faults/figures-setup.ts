// Global setup of the fault suite: starts from no figures, and prints the table at the end,
// also when tests failed.
import { rmSync } from 'node:fs'
import { FIGURES_DIR, figuresTable } from './figures.ts'

export default function setup(): () => void {
  rmSync(FIGURES_DIR, { recursive: true, force: true })
  return () => {
    process.stdout.write(`\n${figuresTable()}\n`)
  }
}
