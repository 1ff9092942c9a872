/**
 * Whether a TypeScript module holds no TypeScript syntax at all, so that Node's type stripping
 * would give back its text unchanged and it can run as JavaScript as it is. Type stripping
 * costs about half a millisecond even for a ten-line migration, and most migrations, typed
 * through `defineMigration`, annotate nothing: a thousand of them load half a second sooner.
 *
 * Said only of a text without `<` that V8 compiles as JavaScript, which leaves out every
 * TypeScript syntax: each one (`x: T`, `as T`, `x!`, `interface`, `enum`, `private x`,
 * `import type`…) is a JavaScript syntax error, except a generic call or instantiation
 * (`f<T>(x)`, `a<b>c`), which JavaScript reads as comparisons: hence no `<`. V8 compiles
 * scripts and functions only, not modules, so the text is checked as the body of an async
 * function in strict mode, after whole lines of plain `import … from '…'`, `export … from '…'`
 * and `export { … }` have been dropped, `export ` taken off declarations, `export default`
 * made an assignment and `import.meta` a name: JavaScript forms only, so nothing else
 * becomes valid. A module this says yes of wrongly (a top-level `return`, which a function
 * allows) fails as it would after stripping; a no sends the file to type stripping as before.
 */
export function isPlainJavaScript(text: string): boolean {
  if (text.includes('<') || LOOKS_TYPED.test(text)) return false
  const body = text
    .replace(MODULE_LINES, ';')
    .replace(EXPORTED_DECLARATION, '')
    .replace(EXPORT_DEFAULT, 'flux$default =')
    .replace(IMPORT_META, 'flux$meta')
  try {
    new AsyncFunction(`'use strict';\n${body}`)
    return true
  } catch {
    return false
  }
}

/**
 * Annotations as formatted code writes them (`}: {`, `): Promise`, `: string`), which plain
 * JavaScript hardly ever holds: such a file goes to type stripping without being compiled first.
 */
const LOOKS_TYPED = /[)}\]]: |: (?:any|unknown|string|number|boolean|void|never)\b/

const AsyncFunction = (async () => {}).constructor as new (body: string) => unknown

const NAME = String.raw`[A-Za-z_$][\w$]*`
const NAMES = String.raw`\{\s*(?:${NAME}(?:\s+as\s+${NAME})?\s*(?:,\s*${NAME}(?:\s+as\s+${NAME})?\s*)*,?\s*)?\}`
const STRING = String.raw`(?:'[^'\\\n]*'|"[^"\\\n]*")`
const FROM = String.raw`\s*from\s*${STRING}`

/** Whole statements from the start of a line: `import 'x'`, `import a, { b as c } from 'x'`, `import * as a from 'x'`, `export * from 'x'`, `export { a } (from 'x')`. */
const MODULE_LINES = new RegExp(
  [
    String.raw`^import\s*${STRING}`,
    String.raw`^import\s+(?:${NAME}(?:\s*,\s*(?:${NAMES}|\*\s*as\s+${NAME}))?|${NAMES}|\*\s*as\s+${NAME})${FROM}`,
    String.raw`^export\s*(?:\*(?:\s*as\s+${NAME})?${FROM}|${NAMES}(?:${FROM})?)`,
  ]
    .map((statement) => `${statement}[ \\t]*;?[ \\t]*$`)
    .join('|'),
  'gm',
)
/** `export ` before a declaration at the start of a line. */
const EXPORTED_DECLARATION = /^export[ \t]+(?=(?:async[ \t]+)?function\b|class\b|const\b|let\b|var\b)/gm
const EXPORT_DEFAULT = /^export[ \t]+default\b/gm
const IMPORT_META = /\bimport\s*\.\s*meta\b/g
