import type { Adapter } from '../adapter.ts'
import { FluxError, messageOf } from '../errors.ts'
import type { Graph, MigrationNode } from '../graph/graph.ts'

const FLEET = Symbol.for('flux.fleet')

/** The member name given to a fleet's factory to learn its store's kind and file loaders. */
export const PROTOTYPE_MEMBER = '__flux_prototype__'

/** What {@link fleet} takes. */
export interface FleetOptions {
  /**
   * The members, found at run time: from a catalog table, an environment variable, a file, a
   * listing. Called once per command that runs or shows the fleet.
   */
  members: () => readonly string[] | Promise<readonly string[]>
  /**
   * Makes one member's store, e.g. `(tenant) => pgStore({ url, schema: \`tenant_${tenant}\` })`.
   * Called once per member per run, and once with a placeholder member when the project loads
   * (to learn the store's kind and the migration files it reads): it must not connect; stores
   * connect in `open()`.
   */
  store: (member: string) => Adapter
  /**
   * Optional: the name of a store in `stores` (not a fleet) whose adapter keeps fleet boards
   * (`@flux/pg`'s does). Runners that share the fleet record there the members they found or
   * brought to the fleet's head, and skip the members another runner recorded since they
   * started: each member is visited about once in all, rather than once per runner.
   */
  board?: string
}

/**
 * Many instances of one store, each with its own ledger and lease: a schema or a database per
 * tenant, a key or bucket prefix per site. Placed in `stores` under a name, which migrations
 * name as their store; each such migration runs once in every member.
 */
export interface Fleet {
  readonly [FLEET]: true
  readonly members: FleetOptions['members']
  readonly store: FleetOptions['store']
  readonly board?: string | undefined
}

/**
 * Declares a fleet of stores.
 *
 * @example
 * ```ts
 * stores: {
 *   catalog: pgStore({ url: process.env.DATABASE_URL }),
 *   tenants: fleet({
 *     members: () => process.env.TENANTS!.split(','),
 *     store: (tenant) => pgStore({ url: process.env.DATABASE_URL, schema: `tenant_${tenant}` }),
 *   }),
 * }
 * ```
 */
export function fleet(options: FleetOptions): Fleet {
  return { [FLEET]: true, members: options?.members, store: options?.store, board: options?.board }
}

export function isFleet(value: unknown): value is Fleet {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[FLEET] === true
}

/**
 * The names of the project's fleets, sorted: all of them, or `only`, which must be one of them
 * (a usage error otherwise, naming those there are).
 */
export function fleetNames(fleets: Readonly<Record<string, Fleet>> | undefined, only?: string): string[] {
  const names = Object.keys(fleets ?? {}).sort()
  if (only === undefined) return names
  if (!names.includes(only)) {
    throw new FluxError('USAGE', `no fleet "${only}" in the config`, {
      hint:
        names.length > 0 ? `the fleets: ${names.join(', ')}` : 'declare one in `stores` with fleet({ members, store })',
    })
  }
  return [only]
}

/** A member name: what a factory can build a schema, database or prefix name from. */
const MEMBER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/

/** The fleet's members, checked: names a factory can use, each once. */
export async function membersOf(name: string, fleet: Fleet): Promise<string[]> {
  let members: readonly string[]
  try {
    members = await fleet.members()
  } catch (error) {
    throw new FluxError('CONFIG_INVALID', `fleet "${name}": listing its members failed: ${messageOf(error)}`, {
      store: name,
      hint: 'check what its members() reads (a catalog table, an environment variable, a file)',
      cause: error,
    })
  }
  if (!Array.isArray(members)) {
    throw new FluxError('CONFIG_INVALID', `fleet "${name}": members() gave ${typeof members}, not an array of names`, {
      store: name,
      hint: 'return the member names, e.g. ["acme", "globex"]',
    })
  }
  const seen = new Set<string>()
  for (const member of members) {
    if (typeof member !== 'string' || !MEMBER_NAME.test(member)) {
      throw new FluxError('CONFIG_INVALID', `fleet "${name}": member ${JSON.stringify(member)} is not a valid name`, {
        store: name,
        hint: 'member names are 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit',
      })
    }
    if (seen.has(member)) {
      throw new FluxError('CONFIG_INVALID', `fleet "${name}": member "${member}" is listed twice`, { store: name })
    }
    seen.add(member)
  }
  return [...members]
}

/** A member's store, from the fleet's factory, checked to be a store. */
export function memberStore(name: string, fleet: Fleet, member: string): Adapter {
  let adapter: unknown
  try {
    adapter = fleet.store(member)
  } catch (error) {
    throw new FluxError(
      'CONFIG_INVALID',
      `fleet "${name}": making ${member === PROTOTYPE_MEMBER ? 'its store' : `the store of member "${member}"`} failed: ${messageOf(error)}`,
      { store: name, cause: error, hint: "check the fleet's store() factory" },
    )
  }
  if (typeof adapter !== 'object' || adapter === null || typeof (adapter as Adapter).open !== 'function') {
    throw new FluxError('CONFIG_INVALID', `fleet "${name}": its store() factory did not give a store`, {
      store: name,
      hint: "return a store made by an adapter's factory, e.g. (member) => pgStore({ url, schema: member })",
    })
  }
  return adapter as Adapter
}

/**
 * What keeps a fleet's runs well defined: a fleet's migrations run member by member after the
 * rest of the graph, so nothing outside the fleet may depend on them or use the fleet, and they
 * use no other store (its lease would make every member wait for the others) and depend on no
 * other fleet's migrations.
 */
export function assertFleetsStandApart(graph: Graph, fleets: Readonly<Record<string, Fleet>>): void {
  const isFleetStore = (store: string) => Object.hasOwn(fleets, store)
  const refuse = (node: MigrationNode, message: string, hint: string) =>
    new FluxError('MIGRATION_INVALID', `${node.file}: ${message}`, {
      file: node.file,
      migration: node.id,
      store: node.store,
      hint,
    })
  for (const node of graph.nodes) {
    const fleetStore = isFleetStore(node.store)
    const used = node.uses.filter((name) => name !== node.store)
    if (fleetStore && used.length > 0) {
      throw refuse(
        node,
        `a migration of the fleet "${node.store}" uses ${used.map((name) => `"${name}"`).join(', ')}: each member would wait for that store's lease`,
        "read what it needs in the member's own store, or move the work into a migration of the other store",
      )
    }
    if (!fleetStore && used.some(isFleetStore)) {
      throw refuse(
        node,
        `uses the fleet "${used.find(isFleetStore)}": a fleet can only be a migration's own store`,
        'write a migration whose store is the fleet: it runs once in every member',
      )
    }
    for (const dependency of [...node.parents, ...node.after]) {
      const other = graph.byId.get(dependency)
      if (!other || other.store === node.store || !isFleetStore(other.store)) continue
      throw refuse(
        node,
        `depends on ${other.id}, a migration of the fleet "${other.store}": its members reach it one by one, so nothing outside the fleet can wait for it`,
        fleetStore
          ? "a fleet's migrations depend on their own fleet's, or on the stores that run before every fleet"
          : "remove the dependency; the fleet's migrations run after the rest of the graph",
      )
    }
  }
}
