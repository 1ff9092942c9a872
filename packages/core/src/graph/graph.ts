import { FluxError } from '../errors.ts'
import type { Component, LoadedMigration } from '../load-migrations.ts'
import type { MigrationDefinition } from '../migration.ts'

/**
 * A migration as the planner sees it: plain, JSON-serializable data. `dependencies` holds
 * its parents (same component) and `after` edges (other components), as ids.
 */
export interface MigrationNode {
  id: string
  component: string
  name: string
  /** File path for messages, relative to the working directory. */
  file: string
  checksum: string
  store: string
  uses: string[]
  parents: string[]
  after: string[]
  transaction: boolean
  repeatable: false | true | 'always'
  reversible: boolean
  /** The names the migration gives the stores it uses (its roles, in a component package), to their store names. */
  usesAs: Record<string, string>
  /** `name@version` of the package the migration comes from, when it is not the application's own. */
  package?: string
}

/** The validated migration graph over all components and stores, nodes in run order. */
export interface Graph {
  /** Topological order; ties broken by component order, then file name. */
  nodes: MigrationNode[]
  byId: Map<string, MigrationNode>
  /** Ids of each node's children (the nodes that depend on it). */
  children: Map<string, string[]>
  /** Definitions, for the runner; not part of any plan. */
  definitions: Map<string, MigrationDefinition>
}

const DEFINITION_KEYS = new Set([
  'store',
  'uses',
  'parents',
  'after',
  'transaction',
  'repeatable',
  'destroysData',
  'up',
  'down',
  'verify',
  'sql',
])

/**
 * Validates every migration's metadata and the edges between them, and orders them.
 * Fails with the first problem found, naming the file: bad metadata, unknown store,
 * duplicate id, unknown parent, cycle (with its path). Nothing has run at this point.
 */
export function buildGraph(
  migrations: LoadedMigration[],
  storeNames: readonly string[],
  components: readonly Component[] = [],
  disabledComponents: readonly string[] = [],
): Graph {
  const componentByName = new Map(components.map((component) => [component.name, component]))
  const byId = new Map<string, MigrationNode>()
  const definitions = new Map<string, MigrationDefinition>()
  const files = new Map<string, string>()
  const componentOrder = new Map<string, number>()
  let previous: LoadedMigration | undefined

  for (const migration of migrations) {
    const duplicate = files.get(migration.id)
    if (duplicate !== undefined) {
      throw new FluxError(
        'GRAPH_INVALID',
        `duplicate migration id "${migration.id}": ${duplicate} and ${migration.displayFile}`,
        {
          migration: migration.id,
          file: migration.displayFile,
          hint: 'rename or remove one of the two files',
        },
      )
    }
    files.set(migration.id, migration.displayFile)
    if (!componentOrder.has(migration.component)) componentOrder.set(migration.component, componentOrder.size)
    const samePredecessor = previous?.component === migration.component ? previous : undefined
    const node = toNode(migration, samePredecessor?.id, storeNames, componentByName.get(migration.component))
    byId.set(node.id, node)
    definitions.set(node.id, migration.definition)
    previous = migration
  }

  const children = new Map<string, string[]>()
  for (const node of byId.values()) children.set(node.id, [])
  // a disabled component's migrations do not run, so edges to them count as satisfied
  const disabled = (id: string) => disabledComponents.some((component) => id.startsWith(`${component}/`))
  for (const node of byId.values()) {
    node.after = node.after.filter((id) => !disabled(id)).map((id) => (byId.has(id) ? id : bareAfter(node, id, byId)))
    for (const dependency of [...node.parents, ...node.after]) {
      if (!byId.has(dependency)) {
        const kind = node.parents.includes(dependency) ? 'parent' : '`after` migration'
        throw new FluxError('GRAPH_INVALID', `${node.file}: unknown ${kind} "${dependency}"`, {
          migration: node.id,
          file: node.file,
          hint: 'name an existing migration of the component (its file name without extension) or a full id',
        })
      }
      children.get(dependency)!.push(node.id)
    }
  }

  const nodes = topologicalOrder(byId, children, componentOrder)
  return { nodes, byId, children, definitions }
}

function toNode(
  migration: LoadedMigration,
  previousId: string | undefined,
  storeNames: readonly string[],
  component: Component | undefined,
): MigrationNode {
  const definition = migration.definition as unknown as Record<string, unknown>
  const file = migration.displayFile
  const bad = (key: string, expected: string): never => {
    throw new FluxError('MIGRATION_INVALID', `${file}: \`${key}\` must be ${expected}`, {
      migration: migration.id,
      file,
      hint: 'fix the migration file; nothing was applied',
    })
  }
  for (const key of Object.keys(definition)) {
    if (!DEFINITION_KEYS.has(key)) bad(key, `one of ${[...DEFINITION_KEYS].join(', ')} (unknown key)`)
  }
  // a component package's migrations name roles, which the application binds to its stores
  const roles = component?.roles
  const known = (roles ? Object.keys(roles) : storeNames).join(', ') || 'none'
  const what = roles ? 'role' : 'store'
  const storeOf = (key: string, name: unknown): string => {
    if (typeof name !== 'string' || name === '') bad(key, `the name of a ${what} (${known})`)
    const store = roles ? roles[name as string] : (name as string)
    if (store === undefined || !storeNames.includes(store)) {
      throw new FluxError('MIGRATION_INVALID', `${file}: unknown ${what} "${String(name)}" in \`${key}\``, {
        migration: migration.id,
        file,
        hint: roles
          ? `the package declares the roles ${known} in its package.json "flux" field`
          : `use one of the stores in flux.config (${known}), or add the store there`,
      })
    }
    return store
  }
  const store = storeOf('store', definition.store)
  const usesAs: Record<string, string> = {}
  for (const name of stringList(definition.uses, 'uses', bad)) usesAs[name] = storeOf('uses', name)
  const uses = Object.values(usesAs)
  if (uses.includes(store)) bad('uses', 'other stores than the home store')
  if (typeof definition.up !== 'function') bad('up', 'a function (ctx) => …')
  if (definition.down !== undefined && typeof definition.down !== 'function') bad('down', 'a function, or left out')
  if (definition.verify !== undefined && typeof definition.verify !== 'function')
    bad('verify', 'a function, or left out')
  if (definition.transaction !== undefined && typeof definition.transaction !== 'boolean')
    bad('transaction', 'true or false')
  const destroysData = definition.destroysData
  if (
    destroysData !== undefined &&
    typeof destroysData !== 'boolean' &&
    (typeof destroysData !== 'string' || destroysData.trim() === '')
  )
    bad('destroysData', 'true, false, or a sentence saying what down() destroys')
  const repeatable = definition.repeatable ?? false
  if (repeatable !== true && repeatable !== false && repeatable !== 'always')
    bad('repeatable', "true, false or 'always'")

  const parents =
    definition.parents === undefined
      ? previousId === undefined
        ? []
        : [previousId]
      : stringList(definition.parents, 'parents', bad).map((parent) =>
          parent.startsWith(`${migration.component}/`) ? parent : `${migration.component}/${parent}`,
        )
  return {
    id: migration.id,
    component: migration.component,
    name: migration.name,
    file,
    checksum: migration.checksum,
    store,
    uses: [...new Set(uses)].sort(),
    usesAs,
    ...(component?.package ? { package: `${component.package.name}@${component.package.version}` } : {}),
    parents,
    after: stringList(definition.after, 'after', bad),
    transaction: definition.transaction !== false,
    repeatable: repeatable as MigrationNode['repeatable'],
    reversible: typeof definition.down === 'function',
  }
}

/** An `after` entry given as a bare name (`20260101000000_init`, or `init`): the one migration of another component so named. */
function bareAfter(node: MigrationNode, name: string, byId: Map<string, MigrationNode>): string {
  if (name.includes('/')) return name
  const named = [...byId.values()].filter(
    (other) => other.component !== node.component && (other.name === name || other.name.replace(/^\d+_/, '') === name),
  )
  if (named.length > 1) {
    throw new FluxError(
      'GRAPH_INVALID',
      `${node.file}: \`after\` name "${name}" is ambiguous: ${named.map((other) => other.id).join(', ')}`,
      { migration: node.id, file: node.file, hint: 'write the full id, `<component>/<name>`' },
    )
  }
  return named[0]?.id ?? name
}

function stringList(value: unknown, key: string, bad: (key: string, expected: string) => never): string[] {
  if (value === undefined) return []
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string' || item === '')) {
    return bad(key, 'an array of names')
  }
  return value as string[]
}

/** Kahn's algorithm with a heap keyed by (component order, file name), so the order is deterministic. */
function topologicalOrder(
  byId: Map<string, MigrationNode>,
  children: Map<string, string[]>,
  componentOrder: Map<string, number>,
): MigrationNode[] {
  const indegree = new Map<string, number>()
  for (const node of byId.values()) indegree.set(node.id, node.parents.length + node.after.length)
  const rank = (node: MigrationNode) => componentOrder.get(node.component) ?? 0
  const heap = new MinHeap<MigrationNode>(
    (a, b) => rank(a) - rank(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  )
  for (const node of byId.values()) if (indegree.get(node.id) === 0) heap.push(node)
  const order: MigrationNode[] = []
  for (let node = heap.pop(); node !== undefined; node = heap.pop()) {
    order.push(node)
    for (const child of children.get(node.id)!) {
      const left = indegree.get(child)! - 1
      indegree.set(child, left)
      if (left === 0) heap.push(byId.get(child)!)
    }
  }
  if (order.length < byId.size) {
    const cycle = findCycle(byId, new Set(order.map((node) => node.id)))
    const first = byId.get(cycle[0]!)!
    const files = [...new Set(cycle.map((id) => byId.get(id)!.file))].join(', ')
    throw new FluxError('GRAPH_INVALID', `cycle in the migration graph: ${cycle.join(' → ')} (in ${files})`, {
      migration: first.id,
      file: first.file,
      hint: 'a migration cannot depend on itself through its parents or `after`; remove one of these edges',
      details: { cycle },
    })
  }
  return order
}

/** A path that closes a cycle among the nodes left unordered, as ids, first id repeated at the end. */
function findCycle(byId: Map<string, MigrationNode>, ordered: Set<string>): string[] {
  const state = new Map<string, 'open' | 'done'>()
  const stack: string[] = []
  const visit = (id: string): string[] | undefined => {
    state.set(id, 'open')
    stack.push(id)
    const node = byId.get(id)!
    for (const dependency of [...node.parents, ...node.after]) {
      if (ordered.has(dependency)) continue
      if (state.get(dependency) === 'open') return [...stack.slice(stack.indexOf(dependency)), dependency].reverse()
      if (!state.has(dependency)) {
        const found = visit(dependency)
        if (found) return found
      }
    }
    stack.pop()
    state.set(id, 'done')
    return undefined
  }
  for (const id of byId.keys()) {
    if (!ordered.has(id) && !state.has(id)) {
      const found = visit(id)
      if (found) return found
    }
  }
  return []
}

class MinHeap<T> {
  private readonly items: T[] = []
  private readonly compare: (a: T, b: T) => number
  constructor(compare: (a: T, b: T) => number) {
    this.compare = compare
  }
  push(item: T): void {
    const items = this.items
    items.push(item)
    let index = items.length - 1
    while (index > 0) {
      const parent = (index - 1) >> 1
      if (this.compare(items[index]!, items[parent]!) >= 0) break
      ;[items[index], items[parent]] = [items[parent]!, items[index]!]
      index = parent
    }
  }
  pop(): T | undefined {
    const items = this.items
    const top = items[0]
    const last = items.pop()
    if (items.length > 0 && last !== undefined) {
      items[0] = last
      let index = 0
      for (;;) {
        const left = index * 2 + 1
        const right = left + 1
        let smallest = index
        if (left < items.length && this.compare(items[left]!, items[smallest]!) < 0) smallest = left
        if (right < items.length && this.compare(items[right]!, items[smallest]!) < 0) smallest = right
        if (smallest === index) break
        ;[items[index], items[smallest]] = [items[smallest]!, items[index]!]
        index = smallest
      }
    }
    return top
  }
}
