import { stripTypeScriptTypes } from 'node:module'
import { describe, expect, it } from 'vitest'
import { isPlainJavaScript } from './plain-javascript.ts'

const migration = `import { defineMigration } from '@flux/core'

export default defineMigration({
  store: 'main',
  async up({ store }) {
    await store.put('items/1', 'item 1')
  },
})
`

describe('isPlainJavaScript', () => {
  it('says yes of a module in plain JavaScript, whose stripped text is its own', () => {
    const texts = [
      migration,
      `import a, { b as c, d } from "./helpers.ts";\nimport * as all from 'node:fs'\nimport 'side-effect'\nexport { a, c as e }\nexport * from './x.ts'\nexport * as y from './y.ts'\nexport { z } from './z.ts'\n`,
      `import {\n  one,\n  two as three,\n} from './multi-line.ts'\n`,
      `export const value = await Promise.resolve(import.meta.url)\nexport async function up() {}\nexport class Step {}\nexport let count = 1, total = 2\n`,
      `export default async function up({ store }) {\n  const rows = store.rows ? store.rows.map((row) => ({ ...row, done: true })) : []\n  label: for (const row of rows) if (row) break label\n}\n`,
      `export default { store: 'main', up: async () => {} }\n`,
      `const type = 1, namespace = 2, declare = 3\nexport default [type, namespace, declare]\n`,
    ]
    for (const text of texts) {
      expect(isPlainJavaScript(text), text).toBe(true)
      expect(stripTypeScriptTypes(text), text).toBe(text)
    }
  })

  it('says no of each TypeScript syntax', () => {
    const texts = [
      'export default function up({ store }: { store: unknown }) {}\n',
      'const count: number = 1\n',
      'const value = {} as Record<string, string>\n',
      'const value = JSON.parse("1") as number\n',
      'const value = [1] satisfies unknown[]\n',
      'declare const store: unknown\nexport default store!.value\n',
      'interface Row { id: number }\n',
      'type Row = { id: number }\n',
      'enum Kind { A, B }\n',
      'import type { Row } from "./row.ts"\n',
      'import { type Row, other } from "./row.ts"\n',
      'export type { Row } from "./row.ts"\n',
      'export { type Row } from "./row.ts"\n',
      'export interface Row { id: number }\n',
      'export abstract class Base {}\n',
      'class Step { private done = false }\n',
      'class Step { done?: boolean }\n',
      'class Step { constructor(readonly name) {} }\n',
      'function up(store?) {}\n',
      'let ready!: boolean\n',
      'namespace Steps { export const a = 1 }\n',
      'import fs = require("node:fs")\n',
      'export = {}\n',
      '@decorated class Step {}\n',
      'export default (value) => value as const\n',
    ]
    for (const text of texts) expect(isPlainJavaScript(text), text).toBe(false)
  })

  it('says no of a generic call, which JavaScript reads as comparisons', () => {
    // JavaScript: (pick < b) > a, false; TypeScript: pick(a), 2
    expect(isPlainJavaScript('const pick = (x) => x\nconst a = 2, b = 1\nexport default pick<b>(a)\n')).toBe(false)
    expect(isPlainJavaScript('export default a < b\n')).toBe(false)
  })

  it('says no of what is not valid JavaScript, and of module syntax it does not know', () => {
    expect(isPlainJavaScript('export default {\n')).toBe(false)
    expect(isPlainJavaScript('  export const indented = 1\n')).toBe(false)
    expect(isPlainJavaScript('import data from "./data.json" with { type: "json" }\n')).toBe(false)
    expect(isPlainJavaScript('const with = 1\n')).toBe(false)
    expect(isPlainJavaScript('export default 010\n')).toBe(false) // strict mode, as in a module
    expect(isPlainJavaScript('const await = 1\n')).toBe(false)
  })
})
