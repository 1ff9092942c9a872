import { FluxError, messageOf } from '../errors.ts'
import { statusOf } from '../plan.ts'
import type { Project } from '../project.ts'
import { fleetNames, memberStore, membersOf } from './fleet.ts'

/** Where one member stands. */
export interface MemberStatus {
  member: string
  /** `at-head`: every fleet migration applied; `behind`: some pending; `dirty`: one was left half done; `unreachable`: its store could not be read. */
  state: 'at-head' | 'behind' | 'dirty' | 'unreachable'
  applied: number
  pending: number
  dirty: string[]
  error?: { code: string; message: string }
}

export interface FleetStatus {
  fleet: string
  /** The fleet's migrations, in run order. */
  migrations: number
  members: MemberStatus[]
  /** Members per state. */
  summary: Record<MemberStatus['state'], number>
}

/** Members read at once. */
const STATUS_CONCURRENCY = 8

/** Every member of every fleet (or of `only`): its ledger read, counted against the fleet's migrations. Takes no lease. */
export async function readFleetStatus(project: Project, only?: string): Promise<FleetStatus[]> {
  const statuses: FleetStatus[] = []
  for (const name of fleetNames(project.fleets, only)) {
    const fleet = project.fleets![name]!
    const nodes = project.graph.nodes.filter((node) => node.store === name)
    const members = await membersOf(name, fleet)
    const results: MemberStatus[] = new Array(members.length)
    // what the members' adapters share while the fleet is read (a server's pool for a fleet of schemas)
    const shared = new Map<string, unknown>()
    let next = 0
    const worker = async () => {
      while (next < members.length) {
        const index = next++
        results[index] = await memberStatus(project, name, members[index]!, nodes, shared)
      }
    }
    await Promise.all(Array.from({ length: Math.min(STATUS_CONCURRENCY, members.length) }, worker))
    const summary = { 'at-head': 0, behind: 0, dirty: 0, unreachable: 0 }
    for (const result of results) summary[result.state] += 1
    statuses.push({ fleet: name, migrations: nodes.length, members: results, summary })
  }
  return statuses
}

async function memberStatus(
  project: Project,
  name: string,
  member: string,
  nodes: Project['graph']['nodes'],
  shared: Map<string, unknown>,
): Promise<MemberStatus> {
  const adapter = memberStore(name, project.fleets![name]!, member)
  try {
    await adapter.open({ leaseLikely: false, shared })
    const entries = await adapter.ledger.read()
    const rows = statusOf(nodes, { [name]: entries }, { ignoredComponents: project.ignoredComponents })
    const dirty = rows.filter((row) => row.status === 'dirty').map((row) => row.id)
    const pending = rows.filter((row) => row.status === 'pending').length
    const applied = rows.filter((row) => row.status === 'applied').length
    return {
      member,
      state: dirty.length > 0 ? 'dirty' : pending > 0 ? 'behind' : 'at-head',
      applied,
      pending,
      dirty,
    }
  } catch (error) {
    return {
      member,
      state: 'unreachable',
      applied: 0,
      pending: 0,
      dirty: [],
      error: { code: FluxError.is(error) ? error.code : 'STORE_UNAVAILABLE', message: messageOf(error) },
    }
  } finally {
    await adapter.close().catch(() => {})
  }
}
