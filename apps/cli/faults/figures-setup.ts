// Global setup of the fault suite: a folder for this run's figures, and the table printed from
// them at the end, also when tests failed.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { TestProject } from 'vitest/node'
import { figuresTable } from './figures.ts'

const TMP = join(dirname(fileURLToPath(import.meta.url)), '..', '.flux-tmp')

export default function setup(project: TestProject): () => void {
  mkdirSync(TMP, { recursive: true })
  const dir = mkdtempSync(join(TMP, 'fault-figures-'))
  project.provide('faultFigures', dir)
  return () => {
    process.stdout.write(`\n${figuresTable(dir)}\n`)
    rmSync(dir, { recursive: true, force: true })
  }
}
