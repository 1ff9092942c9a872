import { randomUUID } from 'node:crypto'
import { FluxError, messageOf } from '../errors.ts'
import type { Project } from '../project.ts'
import { storeInfoOf } from '../project.ts'
import { migrate, type RunReport } from '../runner.ts'
import { openStores, readLedgers } from '../stores.ts'
import { type Fleet, fleetNames, memberStore, membersOf } from './fleet.ts'
import { assertBoard, BOARD_READ_MS, openBoard } from './fleet-board.ts'

/** Members migrated at once when no `concurrency` is given. */
export const DEFAULT_FLEET_CONCURRENCY = 4
/**
 * How long a member leased by another runner waits before it is tried again: 250 ms, doubled
 * each time it is found leased again, up to 4 s. Near the end of a shared run every runner
 * waits on the last few members, and each try costs connections that the runner migrating
 * them could use.
 */
const REVISIT_MS = 250
const REVISIT_MAX_MS = 4_000

/**
 * The age at which another runner's claim on the board no longer keeps this run away from the
 * member: a runner that died leaves its claims, and the members it claimed wait this long (or
 * 4 × the longest visit seen in this run, if longer) before another runner visits them.
 */
const CLAIM_TTL_MS = 5_000

export interface FleetRunOptions {
  direction: 'up' | 'down'
  /** For `down`: the target in every member (`base`: all of the fleet's migrations). */
  target?: string | undefined
  steps?: number | undefined
  /** Members at once (default {@link DEFAULT_FLEET_CONCURRENCY}). */
  concurrency?: number | undefined
  /** Go on with the other members after one fails, and report every failure. Default: stop taking new members. */
  keepGoing?: boolean | undefined
  /** Only this fleet. */
  fleet?: string | undefined
  /** Only this member (with `fleet`). */
  member?: string | undefined
  signal?: AbortSignal | undefined
  runId?: string | undefined
  onProgress?: ((progress: FleetProgress) => void) | undefined
  /** What {@link selectFleets} gave, when it was called ahead (default: it is called now). */
  selected?: FleetSelection[] | undefined
}

/** Where a fleet's run stands: after each member ends, and when one is found leased by another runner. */
export interface FleetProgress {
  fleet: string
  total: number
  /** Members at their target: migrated now, or already there. */
  done: number
  failed: number
  /** Members found leased by another runner, waiting to be tried again. */
  busy: number
  /** Steps run over all members so far. */
  steps: number
  startedAt: number
  /** The member that just ended, and how. */
  last?: MemberResult
}

export interface MemberResult {
  fleet: string
  member: string
  state: 'done' | 'failed' | 'not-started'
  /** Ids applied (up) or reverted (down) in this member by this run. */
  steps: string[]
  /** Recorded at the head on the fleet's board by another runner since this run started: not visited. */
  onBoard?: true
  error?: { code: string; message: string; hint?: string }
}

export interface FleetReport {
  fleet: string
  members: MemberResult[]
  /** Why the fleet's board could not be used (its members were all visited instead). */
  boardError?: string
}

/**
 * Runs each fleet's migrations in every member: a queue of members, `concurrency` at a time,
 * each migrated like a project of one store (its own ledger and lease; the other stores count as
 * done, `migrate()` ran them first). A member whose lease another runner holds is put back and
 * tried again, so several runners share a fleet with no coordinator but the members' leases.
 * A failure stops taking new members, unless `keepGoing`.
 */
export async function migrateFleets(project: Project, options: FleetRunOptions): Promise<FleetReport[]> {
  const concurrency = options.concurrency ?? DEFAULT_FLEET_CONCURRENCY
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new FluxError('USAGE', `concurrency must be a whole number ≥ 1, got ${concurrency}`)
  }
  const selected = options.selected ?? (await selectFleets(project, options))
  const reports: FleetReport[] = []
  for (const { fleet: name, members: listed } of selected) {
    const fleet = project.fleets![name]!
    const members = listed ?? (await membersOf(name, fleet))
    const report = await runFleet(project, name, fleet, members, concurrency, options)
    reports.push(report)
    if (!options.keepGoing && report.members.some((member) => member.state !== 'done')) break
  }
  return reports
}

/** A fleet to run, and its members when they were listed ahead (`--member`). */
export interface FleetSelection {
  fleet: string
  members?: string[]
}

/**
 * The fleets `options` name (all when none), checked before anything runs: a fleet that is not
 * in the config, or a member its `members()` does not give, is a usage error. Members are listed
 * here only for `member`; otherwise when the fleet's turn comes (a catalog table that `members()`
 * reads may be made by the migrations that run first).
 */
export async function selectFleets(
  project: Project,
  options: Pick<FleetRunOptions, 'fleet' | 'member'>,
): Promise<FleetSelection[]> {
  const names = fleetNames(project.fleets, options.fleet)
  for (const name of names) assertBoard(project, name)
  if (options.fleet === undefined || options.member === undefined) return names.map((fleet) => ({ fleet }))
  const all = await membersOf(options.fleet, project.fleets![options.fleet]!)
  if (!all.includes(options.member)) {
    throw new FluxError('USAGE', `fleet "${options.fleet}" has no member "${options.member}"`, {
      hint: `its members() gave ${all.length} members; \`flux status --fleet ${options.fleet} --members\` lists them`,
    })
  }
  return [{ fleet: options.fleet, members: [options.member] }]
}

async function runFleet(
  project: Project,
  name: string,
  fleet: Fleet,
  members: string[],
  concurrency: number,
  options: FleetRunOptions,
): Promise<FleetReport> {
  const runId = options.runId ?? randomUUID()
  const results = new Map<string, MemberResult>(
    members.map((member) => [member, { fleet: name, member, state: 'not-started', steps: [] }]),
  )
  const queue = members.map((member) => ({ member, notBefore: 0, busy: 0 }))
  const progress: FleetProgress = {
    fleet: name,
    total: members.length,
    done: 0,
    failed: 0,
    busy: 0,
    steps: 0,
    startedAt: Date.now(),
  }
  let stopped = false
  const stop = () => options.signal?.aborted || stopped
  // what the members' adapters share over the run (a server's pool for a fleet of schemas)
  const shared = new Map<string, unknown>()
  // what the runners sharing the fleet confirmed since this run started, when it names a board
  const board = options.direction === 'up' ? await openBoard(project, name, runId) : undefined
  // how old another runner's claim may grow before this run takes the member over (its runner
  // may have died): some times the longest visit seen so far, never less than CLAIM_TTL_MS
  let longestVisitMs = 0
  const claimTtl = () => Math.max(CLAIM_TTL_MS, 4 * longestVisitMs)

  const runMember = async (member: string): Promise<'done' | 'failed' | 'busy'> => {
    const result = results.get(member)!
    let report: RunReport
    try {
      report = await migrate(memberProject(project, name, memberStore(name, fleet, member), shared), {
        direction: options.direction,
        target: options.target,
        steps: options.steps,
        signal: options.signal,
        runId,
        concurrency: 1,
      })
    } catch (error) {
      if (FluxError.is(error) && error.code === 'LEASE_TIMEOUT') return 'busy'
      result.state = 'failed'
      result.error = failureOf(error, name, member)
      return 'failed'
    }
    result.steps = report.steps
      .filter((step) => step.status === 'applied' || step.status === 'reverted')
      .map((step) => step.id)
    progress.steps += result.steps.length
    if (report.error) {
      result.state = 'failed'
      result.error = failureOf(report.error, name, member)
      return 'failed'
    }
    result.state = 'done'
    return 'done'
  }

  /** Members found leased by another runner, waiting to be tried again. */
  const waiting = () => queue.filter((entry) => entry.notBefore > 0).length

  /** The first member due, or else the one due soonest. */
  const take = () => {
    if (queue.length === 0) return undefined
    const now = Date.now()
    let index = queue.findIndex((entry) => entry.notBefore <= now)
    if (index === -1) {
      index = 0
      for (let at = 1; at < queue.length; at++) if (queue[at]!.notBefore < queue[index]!.notBefore) index = at
    }
    return queue.splice(index, 1)[0]
  }

  /**
   * Whether `entry` was recorded at the head on the board, waiting until it is due to be
   * visited (again) meanwhile: a member another runner holds shows there once it is done.
   */
  const onBoard = async (entry: (typeof queue)[number]) => {
    for (;;) {
      if (await board!.known(entry.member, entry.busy > 0)) return true
      const wait = entry.notBefore - Date.now()
      if (wait <= 0 || stop()) return false
      await sleep(Math.min(wait, BOARD_READ_MS), options.signal)
    }
  }

  /** A member another runner recorded at the head: done, without a visit. */
  const doneOnBoard = (member: string) => {
    const result = results.get(member)!
    result.state = 'done'
    result.onBoard = true
    progress.done += 1
    options.onProgress?.({ ...progress, busy: waiting(), last: { ...result } })
  }

  /** A member another runner has (its lease, or its claim): left to it, and tried again later. */
  const leaveToOther = (entry: (typeof queue)[number]) => {
    // go on from elsewhere in the list, not in step behind the other runner (where every next
    // member would be its too)
    queue.push(...queue.splice(0, Math.floor(Math.random() * queue.length)))
    const busy = entry.busy + 1
    queue.push({
      member: entry.member,
      notBefore: Date.now() + Math.min(REVISIT_MS * 2 ** (busy - 1), REVISIT_MAX_MS),
      busy,
    })
    options.onProgress?.({ ...progress, busy: waiting() })
  }

  const worker = async () => {
    while (!stop()) {
      const next = take()
      if (!next) return
      if (board && (await onBoard(next))) {
        if (stop()) return
        doneOnBoard(next.member)
        continue
      }
      const wait = next.notBefore - Date.now()
      if (wait > 0) await sleep(wait, options.signal)
      if (stop()) return
      // claimed on the board first: a member another runner is migrating costs a query, not a
      // visit (sessions opened, a lease tried)
      const claim = board ? await board.claim(next.member, claimTtl()) : 'mine'
      if (stop()) return
      if (claim === 'marked') {
        doneOnBoard(next.member)
        continue
      }
      if (claim === 'theirs') {
        leaveToOther(next)
        continue
      }
      const visitStarted = Date.now()
      const outcome = await runMember(next.member)
      longestVisitMs = Math.max(longestVisitMs, Date.now() - visitStarted)
      if (outcome === 'busy') {
        leaveToOther(next)
        continue
      }
      if (outcome === 'failed') {
        progress.failed += 1
        if (!options.keepGoing) stopped = true
      } else {
        progress.done += 1
        board?.mark(next.member)
      }
      options.onProgress?.({ ...progress, busy: waiting(), last: { ...results.get(next.member)! } })
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, members.length) }, worker))
  } finally {
    await board?.close()
  }
  const report: FleetReport = { fleet: name, members: members.map((member) => results.get(member)!) }
  if (board?.error) report.boardError = board.error
  return report
}

/**
 * The project as one member sees it: the fleet is an ordinary store with the member's adapter,
 * and every other store counts as done (as a retired one does): `migrate()` ran them before.
 */
function memberProject(
  project: Project,
  name: string,
  adapter: Project['adapters'][string],
  shared: Map<string, unknown>,
): Project {
  const others = [...Object.keys(project.adapters), ...Object.keys(project.fleets ?? {})].filter(
    (other) => other !== name,
  )
  const adapters = { [name]: adapter }
  // opened here rather than by migrate(): with several runners most members a runner visits are
  // at their target already (another runner migrated them), and need no lease prepared ahead
  const prefetched = openStores(adapters, [name], { leaseLikely: false, shared }).then(() =>
    readLedgers(adapters, [name]),
  )
  // migrate() takes it, and reports its failure
  prefetched.catch(() => {})
  return {
    ...project,
    adapters,
    stores: storeInfoOf(adapters),
    fleets: {},
    retired: [...project.retired, ...others],
    // a member leased by another runner is left to it, and tried again later
    lease: { ...project.lease, waitMs: 0 },
    prefetched,
  }
}

function failureOf(error: unknown, fleet: string, member: string): MemberResult['error'] {
  if (FluxError.is(error))
    return { code: error.code, message: error.message, ...(error.hint ? { hint: error.hint } : {}) }
  return { code: 'MIGRATION_FAILED', message: `fleet "${fleet}", member "${member}": ${messageOf(error)}` }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })
}
