import type { WriteStream } from 'node:tty'
import { stripVTControlCharacters } from 'node:util'

type Paint = (text: string) => string

export interface Output {
  /** `--json`: stdout carries exactly one JSON document. */
  readonly json: boolean
  /** Colours for stdout and stderr: only on a terminal, never with NO_COLOR. */
  readonly paint: { bold: Paint; dim: Paint; red: Paint; green: Paint; yellow: Paint; cyan: Paint }
  /** stderr is a terminal: a live line may be drawn there. */
  readonly interactive: boolean
  line(text?: string): void
  error(text: string): void
  printJson(value: unknown): void
  /** Replaces the live lines on stderr (terminal only): one, or a block of them; `undefined` clears them. */
  live(text: string | readonly string[] | undefined): void
  /** Writes the lines still held (off a terminal, lines are written in batches). */
  flush(): void
}

/** The longest a line waits in a batch, and the most a batch holds. */
const BATCH_MS = 50
const BATCH_BYTES = 64 * 1024

/** Outputs with lines held: written when the process exits, however it exits. */
const holding = new Set<() => void>()
let exitHooked = false

export function createOutput(json: boolean): Output {
  const stdout = process.stdout as WriteStream
  const stderr = process.stderr as WriteStream
  const colors = stdout.isTTY === true && !process.env.NO_COLOR && process.env.TERM !== 'dumb'
  const interactive = stderr.isTTY === true && process.env.TERM !== 'dumb'
  const code = (open: number, close: number): Paint =>
    colors ? (text) => `\u001b[${open}m${text}\u001b[${close}m` : (text) => text
  // lines of the live block on screen; the cursor stays at the end of the last
  let liveShown = 0
  const clearLive = () => {
    if (liveShown > 0) {
      stderr.write(`\r\u001b[2K${'\u001b[1A\u001b[2K'.repeat(liveShown - 1)}`)
      liveShown = 0
    }
  }
  // Off a terminal (a pipe, a file), stdout's lines are written in batches: each write to a pipe
  // is a system call that wakes its reader, about 0.1 ms of a `flux up` that prints a line per
  // migration. A line waits at most BATCH_MS; anything written to stderr first writes what stdout
  // holds, so that the two keep their order in a file that receives both.
  const batching = stdout.isTTY !== true
  let held = ''
  let timer: NodeJS.Timeout | undefined
  const flush = () => {
    if (timer) clearTimeout(timer)
    timer = undefined
    holding.delete(flush)
    if (held === '') return
    const text = held
    held = ''
    stdout.write(text)
  }
  const hold = (text: string) => {
    held += text
    if (held.length >= BATCH_BYTES) return flush()
    holding.add(flush)
    if (!exitHooked) {
      exitHooked = true
      process.on('exit', () => {
        for (const pending of [...holding]) pending()
      })
    }
    timer ??= setTimeout(flush, BATCH_MS).unref()
  }
  return {
    json,
    interactive,
    flush,
    paint: {
      bold: code(1, 22),
      dim: code(2, 22),
      red: code(31, 39),
      green: code(32, 39),
      yellow: code(33, 39),
      cyan: code(36, 39),
    },
    line(text = '') {
      clearLive()
      if (json) return
      if (batching) hold(`${text}\n`)
      else stdout.write(`${text}\n`)
    },
    error(text) {
      flush()
      clearLive()
      stderr.write(`${text}\n`)
    },
    printJson(value) {
      flush()
      stdout.write(`${JSON.stringify(value, null, 2)}\n`)
    },
    live(text) {
      if (!interactive) return
      flush()
      const lines = text === undefined ? [] : typeof text === 'string' ? [text] : text
      clearLive()
      if (lines.length === 0) return
      const width = stderr.columns || 80
      // escape codes take no room on screen; a line too long for the terminal is cut without colours
      const fitted = lines.map((line) => {
        const visible = stripVTControlCharacters(line)
        return visible.length > width - 1 ? `${visible.slice(0, width - 2)}…` : line
      })
      stderr.write(fitted.join('\n'))
      liveShown = fitted.length
    },
  }
}
