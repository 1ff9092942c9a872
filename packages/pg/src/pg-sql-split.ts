/** One SQL statement of a script, without its `;`, and the 1-based line it starts on. */
export interface SqlStatement {
  text: string
  line: number
}

/** A `-- flux:<name> <value>` comment, seen outside any statement, string or comment. */
export interface SqlDirective {
  name: string
  value: string
  line: number
  /** How many statements of the script came before it. */
  statementsBefore: number
}

/** A script that cannot be split: an unterminated string, quoted identifier or comment. */
export class SqlSyntaxError extends Error {
  readonly line: number
  constructor(message: string, line: number) {
    super(message)
    this.name = 'SqlSyntaxError'
    this.line = line
  }
}

const DIRECTIVE = /^--\s*flux:([A-Za-z][\w-]*)[ \t]*(.*?)\s*$/
const DOLLAR_TAG = /\$(?:[A-Za-z_\u0080-\uffff][\w\u0080-\uffff]*)?\$/y
const WORD = /[A-Za-z_\u0080-\uffff][\w$\u0080-\uffff]*/y
const IDENTIFIER_CHAR = /[\w$\u0080-\uffff]/
const SPACE = /\s/
/** A run of characters that mean nothing to the splitter once a statement is known not to be a routine. */
const PLAIN = /[^\n'"$;\-/()]+/y

/** Splits a script into statements; see {@link scanSql}. */
export function splitSql(text: string): SqlStatement[] {
  return scanSql(text).statements
}

/**
 * Splits an SQL script into statements, the way psql does: a `;` ends a statement unless it
 * is inside a string (`'…'` with `''`, `E'…'` with backslash escapes), a quoted identifier,
 * a dollar-quoted body (`$$…$$`, `$tag$…$tag$`), a `--` or nested `/* *\/` comment, or the
 * `BEGIN ATOMIC … END` body of `CREATE FUNCTION`/`PROCEDURE`. A `-- flux:…` comment between
 * statements is a directive, and also ends a statement left without its `;`.
 */
export function scanSql(text: string): { statements: SqlStatement[]; directives: SqlDirective[] } {
  const statements: SqlStatement[] = []
  const directives: SqlDirective[] = []
  let index = 0
  let line = 1
  let start = -1
  let startLine = 0
  // psql's heuristic for BEGIN ATOMIC bodies: only in CREATE [OR REPLACE] FUNCTION|PROCEDURE,
  // known from the statement's first words (undefined until they tell)
  let words: string[] = []
  let routine: boolean | undefined
  let parenDepth = 0
  let beginDepth = 0

  const flush = (end: number) => {
    const statement = start === -1 ? '' : text.slice(start, end).trim()
    if (statement !== '') statements.push({ text: statement, line: startLine })
    start = -1
    words = []
    routine = undefined
    parenDepth = 0
    beginDepth = 0
  }
  const skipTo = (end: number) => {
    for (let at = index; at < end; at++) if (text.charCodeAt(at) === 10) line += 1
    index = end
  }
  const closing = (from: number, what: string, find: () => number): number => {
    const end = find()
    if (end === -1) throw new SqlSyntaxError(`unterminated ${what}`, lineAt(text, from))
    return end
  }
  const afterIdentifier = (at: number) => at > 0 && IDENTIFIER_CHAR.test(text[at - 1]!)

  while (index < text.length) {
    const code = text.charCodeAt(index)
    if (code === 10) {
      line += 1
      index += 1
      continue
    }
    if (code === 32 || (code >= 9 && code <= 13) || (code > 127 && SPACE.test(text[index]!))) {
      index += 1
      continue
    }
    const next = text.charCodeAt(index + 1)
    if (code === 45 && next === 45) {
      const newline = text.indexOf('\n', index)
      const end = newline === -1 ? text.length : newline
      const directive = parenDepth === 0 && beginDepth === 0 ? DIRECTIVE.exec(text.slice(index, end)) : null
      if (directive) {
        flush(index)
        directives.push({ name: directive[1]!, value: directive[2]!, line, statementsBefore: statements.length })
      }
      index = end
      continue
    }
    if (code === 47 && next === 42) {
      skipTo(closing(index, 'block comment', () => blockCommentEnd(text, index)))
      continue
    }
    if (start === -1) {
      start = index
      startLine = line
    }
    if (code === 59 && beginDepth === 0) {
      flush(index)
      index += 1
      continue
    }
    if (code === 39) {
      const escapes = (text[index - 1] === 'e' || text[index - 1] === 'E') && !afterIdentifier(index - 1)
      skipTo(closing(index, 'string', () => quotedEnd(text, index, "'", escapes)))
      continue
    }
    if (code === 34) {
      skipTo(closing(index, 'quoted identifier', () => quotedEnd(text, index, '"', false)))
      continue
    }
    if (code === 36 && !afterIdentifier(index)) {
      DOLLAR_TAG.lastIndex = index
      const tag = DOLLAR_TAG.exec(text)?.[0]
      if (tag) {
        const bodyStart = index + tag.length
        const end = closing(index, `dollar-quoted string ${tag}`, () => text.indexOf(tag, bodyStart))
        skipTo(end + tag.length)
        continue
      }
    }
    if (code === 40 || code === 41) {
      parenDepth += code === 40 ? 1 : -1
      index += 1
      continue
    }
    if (routine !== false && !afterIdentifier(index)) {
      WORD.lastIndex = index
      const word = WORD.exec(text)?.[0]
      if (word) {
        trackBlock(word.toLowerCase())
        index += word.length
        continue
      }
    }
    if (routine === false) {
      PLAIN.lastIndex = index + 1
      index = PLAIN.test(text) ? PLAIN.lastIndex : index + 1
      continue
    }
    index += 1
  }
  flush(text.length)
  return { statements, directives }

  function trackBlock(word: string) {
    if (routine === undefined) {
      words.push(word)
      routine = routineOf(words)
      return
    }
    if (parenDepth !== 0) return
    if (word === 'begin') beginDepth += 1
    else if (word === 'case' && beginDepth > 0) beginDepth += 1
    else if (word === 'end' && beginDepth > 0) beginDepth -= 1
  }
}

/** Whether a statement starting with these words creates a routine; undefined while they do not tell. */
function routineOf(words: readonly string[]): boolean | undefined {
  const [first, second, third, fourth] = words
  const kind = (word: string) => word === 'function' || word === 'procedure'
  if (first !== 'create') return false
  if (second === undefined) return undefined
  if (kind(second)) return true
  if (second !== 'or') return false
  if (third === undefined) return undefined
  if (third !== 'replace') return false
  if (fourth === undefined) return undefined
  return kind(fourth)
}

/** Index just past the closing quote of a string or identifier opened at `from`, or -1. */
function quotedEnd(text: string, from: number, quote: string, backslashEscapes: boolean): number {
  for (let at = from + 1; at < text.length; at++) {
    const char = text[at]
    if (backslashEscapes && char === '\\') at += 1
    else if (char === quote) {
      if (text[at + 1] !== quote) return at + 1
      at += 1
    }
  }
  return -1
}

/** Index just past the end of the (nested) block comment opened at `from`, or -1. */
function blockCommentEnd(text: string, from: number): number {
  let depth = 0
  for (let at = from; at < text.length - 1; at++) {
    if (text[at] === '/' && text[at + 1] === '*') {
      depth += 1
      at += 1
    } else if (text[at] === '*' && text[at + 1] === '/') {
      depth -= 1
      at += 1
      if (depth === 0) return at + 1
    }
  }
  return -1
}

function lineAt(text: string, index: number): number {
  let line = 1
  for (let at = 0; at < index; at++) if (text.charCodeAt(at) === 10) line += 1
  return line
}
