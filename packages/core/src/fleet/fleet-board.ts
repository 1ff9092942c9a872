import { createHash } from 'node:crypto'
import type { Adapter, FleetBoard } from '../adapter.ts'
import { FluxError, messageOf } from '../errors.ts'
import type { Project } from '../project.ts'

/** How often a run reads what the other runners recorded, at most. */
export const BOARD_READ_MS = 250

/**
 * A fleet's board as one `up` uses it: the members that a runner (another, or this one)
 * recorded at the fleet's head since this run started, read again at most every
 * {@link BOARD_READ_MS}; and the members this run confirms, sent in batches. Trusting only
 * what was recorded since the run started makes a record worth a visit: the member was at the
 * head at a moment of this run. A board that cannot be opened, read or written is left alone
 * for the rest of the run (each member is then visited, as without a board), and its error kept
 * for the report: a board makes a run cheaper, it never stops one.
 */
export interface RunBoard {
  /** Whether `member` was recorded at the head since the run started; `fresh`: read the board first. */
  known(member: string, fresh?: boolean): Promise<boolean>
  /**
   * Claims `member` for this run before it is visited (see {@link FleetBoard.claim}); a board
   * that keeps no claims, or has failed, answers `'mine'`. `'marked'` adds the member to those
   * {@link known}.
   */
  claim(member: string, ttlMs: number): Promise<'mine' | 'theirs' | 'marked'>
  /** Records `member` at the head (sent with the next batch). */
  mark(member: string): void
  /** Sends what is left to record, and closes the board's store. */
  close(): Promise<void>
  /** The board's first failure, if any. */
  readonly error: string | undefined
}

/** The board that fleet `name` names, opened, or `undefined` when it names none. */
export async function openBoard(project: Project, name: string, runId: string): Promise<RunBoard | undefined> {
  const storeName = project.fleets?.[name]?.board
  if (storeName === undefined) return undefined
  const { adapter, board } = boardStore(project, name, storeName)
  const head = headOf(project, name)
  const unusable = (what: string, cause: unknown) =>
    `the board in the store "${storeName}" could not be ${what}, every member was visited instead: ${messageOf(cause)}`
  try {
    await adapter.open({ leaseLikely: false })
  } catch (error) {
    return disabled(unusable('opened', error))
  }
  let since: string
  try {
    ;({ now: since } = await board.read(name, head, undefined))
  } catch (error) {
    await adapter.close().catch(() => {})
    return disabled(unusable('read', error))
  }

  const known = new Set<string>()
  let error: string | undefined
  let readAt = 0
  let reading: Promise<void> | undefined
  const queued: string[] = []
  let sending: Promise<void> | undefined
  const failed = (cause: unknown) => {
    error ??= unusable('used', cause)
  }
  const read = () => {
    reading ??= board
      .read(name, head, since)
      .then((result) => {
        for (const member of result.members) known.add(member)
      }, failed)
      .finally(() => {
        readAt = Date.now()
        reading = undefined
      })
    return reading
  }
  const send = () => {
    if (sending || queued.length === 0 || error) return
    const batch = queued.splice(0)
    sending = board
      .mark(name, batch, head)
      .catch(failed)
      .finally(() => {
        sending = undefined
        send()
      })
  }
  return {
    async known(member, fresh) {
      if (error) return false
      if (fresh) await read()
      else if (Date.now() - readAt >= BOARD_READ_MS) void read()
      return known.has(member)
    },
    async claim(member, ttlMs) {
      if (error || !board.claim) return 'mine'
      try {
        const claimed = await board.claim(name, member, head, runId, since, ttlMs)
        if (claimed === 'marked') known.add(member)
        return claimed
      } catch (cause) {
        failed(cause)
        return 'mine'
      }
    },
    mark(member) {
      known.add(member)
      queued.push(member)
      send()
    },
    async close() {
      // each batch sends the next when it ends: what is queued goes out before this returns
      while (sending) await sending
      await reading
      await adapter.close().catch(() => {})
    },
    get error() {
      return error
    },
  }
}

/**
 * Checks that the store fleet `name` keeps its board in can keep one (before anything runs: a
 * usage of the config that `validateConfig` cannot see, the store's adapter being made then).
 */
export function assertBoard(project: Project, name: string): void {
  const storeName = project.fleets?.[name]?.board
  if (storeName !== undefined) boardStore(project, name, storeName)
}

function boardStore(project: Project, name: string, storeName: string): { adapter: Adapter; board: FleetBoard } {
  const adapter: Adapter | undefined = project.adapters[storeName]
  const board: FleetBoard | undefined = adapter?.fleetBoard
  if (!adapter || !board) {
    throw new FluxError('CONFIG_INVALID', `fleet "${name}": its board, the store "${storeName}", cannot keep one`, {
      store: storeName,
      hint: 'name a store whose adapter keeps fleet boards (a pgStore with a url), or remove board from the fleet',
    })
  }
  return { adapter, board }
}

/** A board that could not be used: every member is visited, and `error` says why. */
function disabled(error: string): RunBoard {
  return { known: async () => false, claim: async () => 'mine', mark() {}, close: async () => {}, error }
}

/** The fleet's head: a digest of its migrations, ids and checksums. */
function headOf(project: Project, name: string): string {
  const lines = project.graph.nodes
    .filter((node) => node.store === name)
    .map((node) => `${node.id} ${node.checksum}`)
    .sort()
  return createHash('sha256').update(lines.join('\n')).digest('hex')
}
