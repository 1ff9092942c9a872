import type { MigrationNode } from '../graph/graph.ts'

/** The plan's part that lanes need: each step's id, home store and the stores it uses. */
interface LaneStep {
  id: string
  store: string
  uses: readonly string[]
}

/** Runs when no `concurrency` is given: this many steps (or batches) at once at most. */
export const DEFAULT_CONCURRENCY = 4

/**
 * A group of stores whose steps run one after another, beside the other lanes: stores join
 * one lane when a step touches several of them (its home and `uses`).
 */
export interface PlanLane {
  /** The stores its steps touch, sorted. */
  stores: string[]
  /** Its steps' ids, in the order they run. */
  steps: string[]
  /** Steps of other lanes that some of its steps wait for (an edge across stores), in plan order. */
  after: string[]
}

/**
 * For each step of a plan, the earlier steps it waits for: the one before it on each store it
 * touches (a store runs one step at a time, in plan order), and the nearest steps it depends on
 * through `parents` and `after` (up), or that depend on it (down, where dependants go first).
 * Only earlier steps are listed, so waiting can never go round in a circle.
 */
export function stepDependencies(
  steps: readonly LaneStep[],
  nodes: readonly MigrationNode[],
  direction: 'up' | 'down',
): number[][] {
  const indexOf = new Map(steps.map((step, index) => [step.id, index]))
  const next = new Map<string, string[]>()
  if (direction === 'up') {
    for (const node of nodes) next.set(node.id, [...node.parents, ...node.after])
  } else {
    for (const node of nodes) {
      for (const parent of [...node.parents, ...node.after]) {
        const children = next.get(parent) ?? []
        children.push(node.id)
        next.set(parent, children)
      }
    }
  }
  // the nearest plan steps reached from a migration not in the plan, once per migration,
  // walked without recursion (a long chain of applied migrations would overflow the stack)
  const nearest = new Map<string, Set<number>>()
  const entered = new Set<string>()
  const reach = (start: string): Set<number> => {
    const stack = [start]
    while (stack.length > 0) {
      const id = stack.at(-1)!
      if (nearest.has(id)) {
        stack.pop()
        continue
      }
      const around = next.get(id) ?? []
      const todo = around.filter((neighbour) => !indexOf.has(neighbour) && !nearest.has(neighbour))
      if (todo.length > 0 && !entered.has(id)) {
        entered.add(id)
        stack.push(...todo)
        continue
      }
      const found = new Set<number>()
      for (const neighbour of around) {
        const index = indexOf.get(neighbour)
        if (index !== undefined) found.add(index)
        else for (const further of nearest.get(neighbour) ?? []) found.add(further)
      }
      nearest.set(id, found)
      stack.pop()
    }
    return nearest.get(start)!
  }
  const lastOnStore = new Map<string, number>()
  return steps.map((step, index) => {
    const waits = new Set<number>()
    for (const store of new Set([step.store, ...step.uses])) {
      const last = lastOnStore.get(store)
      if (last !== undefined) waits.add(last)
      lastOnStore.set(store, index)
    }
    for (const neighbour of next.get(step.id) ?? []) {
      const found = indexOf.get(neighbour)
      if (found !== undefined) waits.add(found)
      else for (const further of reach(neighbour)) waits.add(further)
    }
    return [...waits].filter((wait) => wait < index).sort((a, b) => a - b)
  })
}

/** The plan's lanes, in the order of their first step. */
export function planLanes(
  steps: readonly LaneStep[],
  nodes: readonly MigrationNode[],
  direction: 'up' | 'down',
): PlanLane[] {
  const root = new Map<string, string>()
  const find = (store: string): string => {
    let current = store
    while (root.get(current) !== undefined && root.get(current) !== current) current = root.get(current)!
    root.set(store, current)
    return current
  }
  for (const step of steps) {
    const home = find(step.store)
    for (const used of step.uses) {
      const other = find(used)
      if (other !== home) root.set(other, home)
    }
  }
  const lanes = new Map<string, PlanLane>()
  const laneOf: PlanLane[] = []
  for (const step of steps) {
    const key = find(step.store)
    let lane = lanes.get(key)
    if (!lane) {
      lane = { stores: [], steps: [], after: [] }
      lanes.set(key, lane)
    }
    lane.steps.push(step.id)
    laneOf.push(lane)
  }
  for (const store of new Set(steps.flatMap((step) => [step.store, ...step.uses]))) {
    lanes.get(find(store))!.stores.push(store)
  }
  const waits = stepDependencies(steps, nodes, direction)
  for (const [index, lane] of laneOf.entries()) {
    for (const wait of waits[index]!) {
      if (laneOf[wait] !== lane && !lane.after.includes(steps[wait]!.id)) lane.after.push(steps[wait]!.id)
    }
  }
  for (const lane of lanes.values()) {
    lane.stores.sort()
    const order = new Map(steps.map((step, index) => [step.id, index]))
    lane.after.sort((a, b) => order.get(a)! - order.get(b)!)
  }
  return [...lanes.values()]
}

/** Steps that run as one: one step, or a batch of one store's steps sent in one call. */
export interface RunUnit {
  /** Plan indices of its steps, in order. */
  steps: number[]
  /** What `kindOf` said of its steps; `undefined` for a step alone. */
  kind: string | undefined
  /** Units it waits for. */
  waitsFor: number[]
}

/**
 * Cuts the plan into units: a step alone, or a group of steps of one store that `kindOf` gives
 * the same kind (`batch`: sent in one transaction batch; `chain`: run one after another with
 * their ledger writes joined), each the next step on that store after the one before, and
 * waiting for nothing but the group and steps before its first (so no unit waits for one that
 * waits for it). `adjacent`: a group takes only steps next to each other in the plan (one step
 * at a time). A step whose kind is `undefined` is a unit alone.
 */
export function runUnits(
  steps: readonly LaneStep[],
  waits: readonly number[][],
  kindOf: (index: number) => string | undefined,
  options: { adjacent: boolean; limit: number | ((kind: string) => number) },
): RunUnit[] {
  const units: RunUnit[] = []
  const unitOf = new Array<number>(steps.length)
  // the next step that touches each step's home store
  const nextOnStore = new Array<number | undefined>(steps.length)
  const lastOnStore = new Map<string, number>()
  for (const [index, step] of steps.entries()) {
    for (const store of new Set([step.store, ...step.uses])) {
      const last = lastOnStore.get(store)
      if (last !== undefined && steps[last]!.store === store) nextOnStore[last] = index
      lastOnStore.set(store, index)
    }
  }
  for (let index = 0; index < steps.length; index++) {
    if (unitOf[index] !== undefined) continue
    const members = [index]
    const kind = kindOf(index)
    if (kind !== undefined) {
      const limit = typeof options.limit === 'number' ? options.limit : options.limit(kind)
      const inside = new Set(members)
      for (let candidate = nextOnStore[index]; candidate !== undefined; candidate = nextOnStore[candidate]) {
        if (members.length >= limit) break
        if (options.adjacent && candidate !== members.at(-1)! + 1) break
        if (steps[candidate]!.store !== steps[index]!.store || kindOf(candidate) !== kind) break
        if (!waits[candidate]!.every((wait) => inside.has(wait) || wait < index)) break
        members.push(candidate)
        inside.add(candidate)
      }
    }
    const unit = units.length
    for (const member of members) unitOf[member] = unit
    units.push({ steps: members, kind, waitsFor: [] })
  }
  for (const [number, unit] of units.entries()) {
    const waitsFor = new Set<number>()
    for (const member of unit.steps) {
      for (const wait of waits[member]!) if (unitOf[wait] !== number) waitsFor.add(unitOf[wait]!)
    }
    unit.waitsFor = [...waitsFor].sort((a, b) => a - b)
  }
  return units
}

/**
 * Runs units side by side: a unit starts once every unit it waits for is done, at most
 * `concurrency` at a time, the earliest in the plan first. `mayStart` is asked before each
 * start; once it says no, nothing more starts and the running units finish. `run` must not
 * reject. Resolves with the units that were started, once all of them ended.
 */
export function runSideBySide(
  units: readonly RunUnit[],
  concurrency: number,
  mayStart: () => boolean,
  run: (unit: number) => Promise<void>,
): Promise<Set<number>> {
  const started = new Set<number>()
  const left = units.map((unit) => unit.waitsFor.length)
  const dependants = units.map((): number[] => [])
  for (const [number, unit] of units.entries()) for (const wait of unit.waitsFor) dependants[wait]!.push(number)
  const ready = units.flatMap((unit, number) => (unit.waitsFor.length === 0 ? [number] : []))
  let running = 0
  let stopped = false
  return new Promise((resolve) => {
    const pump = () => {
      while (!stopped && running < concurrency && ready.length > 0) {
        if (!mayStart()) {
          stopped = true
          break
        }
        const number = ready.shift()!
        started.add(number)
        running += 1
        void run(number).then(() => {
          running -= 1
          for (const dependant of dependants[number]!) {
            left[dependant]! -= 1
            if (left[dependant] === 0) insertSorted(ready, dependant)
          }
          pump()
        })
      }
      if (running === 0) resolve(started)
    }
    pump()
  })
}

function insertSorted(list: number[], value: number): void {
  let at = list.length
  while (at > 0 && list[at - 1]! > value) at -= 1
  list.splice(at, 0, value)
}
