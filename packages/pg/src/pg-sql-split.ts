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

/**
 * A script that cannot be split: an unterminated string, quoted identifier, comment or
 * parenthesis, or what only psql can run (`COPY … FROM stdin` and its data, a `\` command).
 */
export class SqlSyntaxError extends Error {
  readonly line: number
  /** What to do about it. */
  readonly hint: string
  constructor(message: string, line: number, hint: string) {
    super(message)
    this.name = 'SqlSyntaxError'
    this.line = line
    this.hint = hint
  }
}

const DIRECTIVE = /^--\s*flux:([A-Za-z][\w-]*)[ \t]*(.*?)\s*$/
const DOLLAR_TAG = /\$(?:[A-Za-z_\u0080-\uffff][\w\u0080-\uffff]*)?\$/y
const WORD = /[A-Za-z_\u0080-\uffff][\w$\u0080-\uffff]*/y
const IDENTIFIER_CHAR = /[\w$\u0080-\uffff]/
const SPACE = /\s/
const UNCLOSED_HINT = 'close it: the rest of the file was read as part of it'
/** A run of characters that mean nothing to the splitter once a statement is known to be no routine and no COPY. */
const PLAIN = /[^\n'"$;\-/()]+/y

/** Splits a script into statements; see {@link scanSql}. */
export function splitSql(text: string): SqlStatement[] {
  return scanSql(text).statements
}

/**
 * Splits an SQL script into statements, the way psql does: a `;` ends a statement unless it
 * is inside a string (`'…'` with `''`, `E'…'` with backslash escapes), a quoted identifier,
 * a dollar-quoted body (`$$…$$`, `$tag$…$tag$`), a `--` or nested `/* *\/` comment,
 * parentheses, or the `BEGIN ATOMIC … END` body of `CREATE FUNCTION`/`PROCEDURE`. A
 * statement's text stops at its last token, before the comments that may follow it. A
 * `-- flux:…` comment between statements is a directive, and also ends a statement left
 * without its `;`. What psql alone can run (`COPY … FROM stdin` with its data, a `\` command)
 * is refused.
 */
export function scanSql(text: string): { statements: SqlStatement[]; directives: SqlDirective[] } {
  const statements: SqlStatement[] = []
  const directives: SqlDirective[] = []
  let index = 0
  let line = 1
  let start = -1
  let startLine = 0
  // just past the statement's last token: statements are sent joined with `;`, which a
  // trailing `-- comment` kept in the text would swallow
  let end = 0
  // the statement's first words, until they tell its kind (undefined until then)
  let words: string[] = []
  let kind: StatementKind | undefined
  let previousWord = ''
  let parenDepth = 0
  let parenLine = 0
  let beginDepth = 0
  let beginLine = 0

  const flush = () => {
    if (start !== -1 && end > start) statements.push({ text: text.slice(start, end).trimEnd(), line: startLine })
    start = -1
    words = []
    kind = undefined
    previousWord = ''
    parenDepth = 0
    beginDepth = 0
  }
  const skipTo = (to: number) => {
    for (let at = index; at < to; at++) if (text.charCodeAt(at) === 10) line += 1
    index = to
  }
  const closing = (from: number, what: string, find: () => number): number => {
    const found = find()
    if (found === -1) throw new SqlSyntaxError(`unterminated ${what}`, lineAt(text, from), UNCLOSED_HINT)
    return found
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
      const lineEnd = newline === -1 ? text.length : newline
      const directive = parenDepth === 0 && beginDepth === 0 ? DIRECTIVE.exec(text.slice(index, lineEnd)) : null
      if (directive) {
        flush()
        directives.push({ name: directive[1]!, value: directive[2]!, line, statementsBefore: statements.length })
      }
      index = lineEnd
      continue
    }
    if (code === 47 && next === 42) {
      skipTo(closing(index, 'block comment', () => blockCommentEnd(text, index)))
      continue
    }
    if (start === -1) {
      if (code === 92) {
        const command = /^\\[^\s\\]*/.exec(text.slice(index, index + 100))![0]
        throw new SqlSyntaxError(
          `\`${command}\` is a psql command, and flux runs no psql commands`,
          line,
          'flux sends the SQL of the file to PostgreSQL itself: remove the command, or do what it does in SQL',
        )
      }
      start = index
      startLine = line
    }
    // like psql: a `;` in parentheses or in a BEGIN ATOMIC body ends nothing
    if (code === 59 && parenDepth === 0 && beginDepth === 0) {
      flush()
      index += 1
      continue
    }
    token(code)
    end = index
  }
  if (parenDepth > 0) throw new SqlSyntaxError('unclosed parenthesis', parenLine, UNCLOSED_HINT)
  if (beginDepth > 0) {
    throw new SqlSyntaxError(
      'BEGIN without END in a routine: psql, like flux, would read the rest of the file into it',
      beginLine,
      'end the BEGIN ATOMIC body with END; a function or parameter named begin needs quotes: "begin"',
    )
  }
  flush()
  return { statements, directives }

  /** Moves `index` past the token at it: a string, a quoted identifier or body, a word… */
  function token(code: number) {
    if (code === 39) {
      const escapes = (text[index - 1] === 'e' || text[index - 1] === 'E') && !afterIdentifier(index - 1)
      skipTo(closing(index, 'string', () => quotedEnd(text, index, "'", escapes)))
      return
    }
    if (code === 34) {
      skipTo(closing(index, 'quoted identifier', () => quotedEnd(text, index, '"', false)))
      return
    }
    if (code === 36 && !afterIdentifier(index)) {
      DOLLAR_TAG.lastIndex = index
      const tag = DOLLAR_TAG.exec(text)?.[0]
      if (tag) {
        const bodyStart = index + tag.length
        const bodyEnd = closing(index, `dollar-quoted string ${tag}`, () => text.indexOf(tag, bodyStart))
        skipTo(bodyEnd + tag.length)
        return
      }
    }
    if (code === 40) {
      if (parenDepth === 0) parenLine = line
      parenDepth += 1
      index += 1
      return
    }
    if (code === 41) {
      // psql's count never goes below zero; the server reports the stray `)`
      if (parenDepth > 0) parenDepth -= 1
      index += 1
      return
    }
    if (kind !== 'other' && !afterIdentifier(index)) {
      WORD.lastIndex = index
      const word = WORD.exec(text)?.[0]
      if (word) {
        trackWord(word.toLowerCase())
        index += word.length
        return
      }
    }
    if (kind === 'other') {
      PLAIN.lastIndex = index + 1
      index = PLAIN.test(text) ? PLAIN.lastIndex : index + 1
      return
    }
    index += 1
  }

  function trackWord(word: string) {
    if (kind === undefined) {
      words.push(word)
      kind = kindOf(words)
    } else if (kind === 'copy') {
      // psql would send the lines after it as the data: flux has no such stream
      if (word === 'stdin' && previousWord === 'from' && parenDepth === 0) {
        throw new SqlSyntaxError(
          "COPY … FROM stdin needs psql's data stream, which flux cannot send",
          startLine,
          'load the rows with INSERT, with COPY FROM a file on the database server, or from a TypeScript migration',
        )
      }
    } else if (parenDepth === 0) {
      // psql's heuristic: words, not the grammar, tell where a BEGIN ATOMIC body ends
      if (word === 'begin') {
        if (beginDepth === 0) beginLine = line
        beginDepth += 1
      } else if (word === 'case' && beginDepth > 0) beginDepth += 1
      else if (word === 'end' && beginDepth > 0) beginDepth -= 1
    }
    previousWord = word
  }
}

/** How a statement is read: told by its first words. */
type StatementKind = 'routine' | 'copy' | 'other'

function kindOf(words: readonly string[]): StatementKind | undefined {
  if (words[0] === 'copy') return 'copy'
  const routine = routineOf(words)
  return routine === undefined ? undefined : routine ? 'routine' : 'other'
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
