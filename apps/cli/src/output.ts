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
}

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
  return {
    json,
    interactive,
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
      if (!json) stdout.write(`${text}\n`)
    },
    error(text) {
      clearLive()
      stderr.write(`${text}\n`)
    },
    printJson(value) {
      stdout.write(`${JSON.stringify(value, null, 2)}\n`)
    },
    live(text) {
      if (!interactive) return
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
