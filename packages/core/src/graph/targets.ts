import { FluxError } from '../errors.ts'
import type { MigrationNode } from './graph.ts'
import { singleHead } from './graph-tools.ts'

/**
 * The revision grammar of `up`, `down` and `plan`, after Alembic's:
 *
 * | form | meaning |
 * | --- | --- |
 * | `app/20261121093000_add-photos` | a migration id |
 * | `add-photos`, `20261121093000_add-photos` | a bare name, or a name without its timestamp, where unique |
 * | `app/2026112`, `2026112` | a unique prefix of an id or a name |
 * | `heads` | every head (up) |
 * | `base` | before every migration (down: revert everything) |
 * | `app@head` | the one head of a component |
 * | `app@base` | before the component's first migration (down: the component and its dependants) |
 * | `+2`, `-1` | from the one current head, two migrations up, one down |
 * | `base+2`, `app@base+1` | from base: the second migration, the component's first |
 * | `app@+1`, `app@-2` | from the component's current head |
 * | `<id>+1`, `<id>-2` | from a migration, along `parents` |
 *
 * "Current head": an applied migration that no applied migration of its component names as
 * a parent. A relative step fails where Alembic fails: it cannot go N steps (a head or a root
 * reached too soon), a branch point or merge point is on the way (name which side), or
 * several heads could start it (name the component or the migration).
 */
export type ResolvedTarget =
  | { kind: 'migration'; id: string }
  | { kind: 'heads' }
  | { kind: 'base' }
  | { kind: 'component-base'; component: string }
  /** Down: this migration and what lies above it (a relative step reached below a root). */
  | { kind: 'from'; id: string }

const RELATIVE = /^(.*?)([+-])(\d+)$/

/** Resolves a user's target against the graph and what is applied (relative forms need the latter). */
export function resolveRevision(
  nodes: readonly MigrationNode[],
  target: string,
  applied: ReadonlySet<string>,
): ResolvedTarget {
  if (target === 'heads') return { kind: 'heads' }
  if (target === 'base') return { kind: 'base' }
  if (target.endsWith('@base')) {
    const component = target.slice(0, -'@base'.length)
    if (!nodes.some((node) => node.component === component)) throw unknownComponent(component)
    return { kind: 'component-base', component }
  }
  const plain = findNode(nodes, target)
  if (plain) return { kind: 'migration', id: plain.id }
  const relative = RELATIVE.exec(target)
  if (relative) {
    const [, origin, sign, digits] = relative as unknown as [string, string, '+' | '-', string]
    return relativeTarget(nodes, applied, target, origin, sign === '+' ? Number(digits) : -Number(digits))
  }
  return { kind: 'migration', id: resolveTarget(nodes, target).id }
}

/** Finds the migration a target names: an id, `<component>@head`, a bare name or a unique prefix. */
export function resolveTarget(nodes: readonly MigrationNode[], target: string): MigrationNode {
  const found = findNode(nodes, target)
  if (found) return found
  const prefixed = nodes.filter((node) => node.id.startsWith(target) || node.name.startsWith(target))
  if (prefixed.length === 1) return prefixed[0]!
  if (prefixed.length > 1) throw ambiguous(target, prefixed)
  throw new FluxError('TARGET_INVALID', `no migration is named "${target}"`, {
    hint: 'run `flux status` to see migration ids',
  })
}

function findNode(nodes: readonly MigrationNode[], target: string): MigrationNode | undefined {
  const exact = nodes.find((node) => node.id === target)
  if (exact) return exact
  if (target.endsWith('@head')) return singleHead(nodes, target.slice(0, -'@head'.length))
  const byName = nodes.filter((node) => node.name === target || node.name.replace(/^\d+_/, '') === target)
  if (byName.length === 1) return byName[0]!
  if (byName.length > 1) throw ambiguous(target, byName)
  return undefined
}

function relativeTarget(
  nodes: readonly MigrationNode[],
  applied: ReadonlySet<string>,
  target: string,
  origin: string,
  steps: number,
): ResolvedTarget {
  // `base+2`, `app@base+2`: counted from base, whatever is applied
  const fromBase = origin === 'base' || origin.endsWith('@base')
  const bare = fromBase ? origin.slice(0, -'base'.length) : origin
  const component = bare.endsWith('@') ? bare.slice(0, -1) : undefined
  if (component !== undefined && !nodes.some((node) => node.component === component)) {
    throw unknownComponent(component)
  }
  if (bare !== '' && component === undefined) {
    return walk(nodes, resolveTarget(nodes, origin), steps, target)
  }
  const scope = nodes.filter((node) => component === undefined || node.component === component)
  const heads = fromBase ? [] : currentHeads(scope, applied)
  const where = component === undefined ? '' : ` of ${component}`
  const name = component === undefined ? '<component>@' : `${component}@`
  if (heads.length > 1) {
    throw new FluxError(
      'TARGET_INVALID',
      `"${target}" is ambiguous: several heads${where} are applied (${heads.map((node) => node.id).join(', ')})`,
      {
        hint: `name where to start: \`${name}${steps > 0 ? '+' : '-'}${Math.abs(steps)}\` or \`<id>${steps > 0 ? '+' : '-'}${Math.abs(steps)}\``,
      },
    )
  }
  if (heads.length === 1) return walk(nodes, heads[0]!, steps, target)
  if (steps < 0) {
    throw new FluxError(
      'TARGET_INVALID',
      `"${target}": nothing${where} is applied, so there is nothing to go down from`,
    )
  }
  // nothing applied: the first step up is the root
  const roots = scope.filter((node) => node.parents.length === 0)
  if (roots.length !== 1) {
    throw new FluxError(
      'TARGET_INVALID',
      `"${target}" is ambiguous: nothing${where} is applied and there are ${roots.length} roots (${roots.map((node) => node.id).join(', ')})`,
      { hint: `name where to start: \`<id>+${steps - 1}\` from one of them` },
    )
  }
  return steps === 1 ? { kind: 'migration', id: roots[0]!.id } : walk(nodes, roots[0]!, steps - 1, target)
}

/** Applied migrations that no applied migration of their component names as a parent. */
function currentHeads(nodes: readonly MigrationNode[], applied: ReadonlySet<string>): MigrationNode[] {
  const appliedParents = new Set(nodes.filter((node) => applied.has(node.id)).flatMap((node) => node.parents))
  return nodes.filter((node) => applied.has(node.id) && !appliedParents.has(node.id))
}

/** Follows `parents` |steps| times, down (steps < 0) or up; one past a root going down is `from` that root. */
function walk(nodes: readonly MigrationNode[], start: MigrationNode, steps: number, target: string): ResolvedTarget {
  let current = start
  for (let step = 1; step <= Math.abs(steps); step++) {
    const next =
      steps < 0
        ? current.parents.map((id) => nodes.find((node) => node.id === id)!)
        : nodes.filter((node) => node.parents.includes(current.id))
    if (next.length === 0) {
      if (steps < 0 && step === -steps) return { kind: 'from', id: current.id }
      // going down, the step past a root reaches base: one more than going up
      const most = steps < 0 ? step : step - 1
      const what = steps < 0 ? 'a root' : 'a head'
      throw new FluxError(
        'TARGET_INVALID',
        `"${target}" cannot go ${Math.abs(steps)} steps ${steps < 0 ? 'down' : 'up'}: ${most} at most (${current.id} is ${what})`,
        { hint: 'run `flux history` or `flux heads` to see how far it can go' },
      )
    }
    if (next.length > 1) {
      const point = steps < 0 ? 'a merge point' : 'a branch point'
      throw new FluxError(
        'TARGET_INVALID',
        `"${target}" is ambiguous: ${current.id} is ${point} (${next.map((node) => node.id).join(', ')})`,
        {
          hint: `name the side to follow, e.g. \`${next[0]!.id}${rest(steps < 0 ? '-' : '+', Math.abs(steps) - step)}\``,
        },
      )
    }
    current = next[0]!
  }
  return { kind: 'migration', id: current.id }
}

function rest(sign: string, steps: number): string {
  return steps > 0 ? `${sign}${steps}` : ''
}

function ambiguous(target: string, nodes: readonly MigrationNode[]): FluxError {
  const candidates = nodes.map((node) => node.id).sort()
  return new FluxError('TARGET_INVALID', `target "${target}" is ambiguous: ${candidates.join(', ')}`, {
    hint: 'give the full migration id, or a longer prefix',
    details: { candidates },
  })
}

function unknownComponent(component: string): FluxError {
  return new FluxError('TARGET_INVALID', `no component is named "${component}"`, {
    hint: 'run `flux heads` to see the components',
  })
}

/**
 * The migrations of a history range, as Alembic's `history -r`: `a:b` (descendants of a that
 * are ancestors of b, both included), `:b` (from base), `a:` (to the heads). Each end is any
 * target of the grammar; `base` and `heads` leave that end open.
 */
export function revisionRange(
  nodes: readonly MigrationNode[],
  range: string,
  applied: ReadonlySet<string>,
): Set<string> {
  const colon = range.indexOf(':')
  if (colon < 0 || range.indexOf(':', colon + 1) >= 0) {
    throw new FluxError('TARGET_INVALID', `"${range}" is not a range`, { hint: 'write `a:b`, `:b` or `a:`' })
  }
  const end = (text: string, open: string): ResolvedTarget =>
    text === '' ? { kind: open === 'base' ? 'base' : 'heads' } : resolveRevision(nodes, text, applied)
  const lower = end(range.slice(0, colon), 'base')
  const upper = end(range.slice(colon + 1), 'heads')
  let included = new Set(nodes.map((node) => node.id))
  if (lower.kind === 'migration' || lower.kind === 'from') included = closure(nodes, [lower.id], 'down')
  else if (lower.kind === 'component-base') {
    const component = lower.component
    included = closure(
      nodes,
      nodes.filter((node) => node.component === component).map((node) => node.id),
      'down',
    )
  }
  if (upper.kind === 'migration' || upper.kind === 'from') {
    const below = closure(nodes, [upper.id], 'up')
    if ((lower.kind === 'migration' || lower.kind === 'from') && !below.has(lower.id)) {
      throw new FluxError('TARGET_INVALID', `"${range}": ${lower.id} is not an ancestor of ${upper.id}`, {
        hint: 'put the older migration first: `older:newer`',
      })
    }
    included = new Set([...included].filter((id) => below.has(id)))
  } else if (upper.kind !== 'heads') {
    included = new Set()
  }
  return included
}

/** The nodes and what they lead to: `down` to their descendants (what depends on them), `up` to their ancestors. */
function closure(nodes: readonly MigrationNode[], from: string[], direction: 'up' | 'down'): Set<string> {
  const next = new Map<string, string[]>()
  for (const node of nodes) {
    for (const dependency of [...node.parents, ...node.after]) {
      const [key, value] = direction === 'up' ? [node.id, dependency] : [dependency, node.id]
      if (!next.has(key)) next.set(key, [])
      next.get(key)!.push(value)
    }
  }
  const seen = new Set<string>()
  const stack = [...from]
  while (stack.length > 0) {
    const current = stack.pop()!
    if (seen.has(current)) continue
    seen.add(current)
    stack.push(...(next.get(current) ?? []))
  }
  return seen
}
