import { type Add, Phase } from './pg-diff-phase.ts'
import type { SchemaModel } from './pg-introspect.ts'

/**
 * Views and sequences of their own. A view that changed is dropped and created again, and so
 * is one that reads a table whose columns are dropped or change type (PostgreSQL refuses
 * those while a view depends on them).
 */
export function diffObjects(live: SchemaModel, declared: SchemaModel, add: Add, notes: string[]): void {
  const wantedViews = declared.views ?? []
  const currentViews = live.views ?? []
  const touched = new Set(
    [...declared.tables.values()]
      .filter((wanted) => {
        const current = live.tables.get(wanted.name)
        return current?.columns.some((column) => {
          const kept = wanted.columns.find((other) => other.name === column.name)
          return kept === undefined || kept.type !== column.type
        })
      })
      .map((table) => table.name),
  )
  // a view is redone when it changed, or reads a touched table or a redone view (live order: dependencies first)
  const redone = new Set<string>()
  for (const view of currentViews) {
    const wanted = wantedViews.find((other) => other.name === view.name)
    const reads = view.dependsOn.some((name) => touched.has(name) || redone.has(name))
    if (wanted && (wanted.definition !== view.definition || reads)) redone.add(view.name)
  }
  // dropped in reverse order of creation, created in declared order: each drop's down creates the view as it was
  for (const view of [...currentViews].reverse()) {
    if (wantedViews.some((other) => other.name === view.name) && !redone.has(view.name)) continue
    add(Phase.dropView, `drop view ${view.name}`, `create view ${view.name} as\n${view.definition}`)
  }
  for (const view of wantedViews) {
    if (currentViews.some((other) => other.name === view.name) && !redone.has(view.name)) continue
    add(Phase.createView, `create view ${view.name} as\n${view.definition}`, `drop view ${view.name}`)
  }

  const wantedSequences = declared.sequences ?? []
  const currentSequences = live.sequences ?? []
  for (const sequence of wantedSequences) {
    const current = currentSequences.find((other) => other.name === sequence.name)
    if (!current) {
      add(
        Phase.createSequence,
        `create sequence ${sequence.name} ${sequence.definition}`,
        `drop sequence ${sequence.name}`,
      )
    } else if (current.definition !== sequence.definition) {
      add(
        Phase.createSequence,
        `alter sequence ${sequence.name} ${sequence.definition}`,
        `alter sequence ${current.name} ${current.definition}`,
      )
    }
  }
  for (const sequence of currentSequences) {
    if (wantedSequences.some((other) => other.name === sequence.name)) continue
    add(Phase.dropSequence, `drop sequence ${sequence.name}`, `create sequence ${sequence.name} ${sequence.definition}`)
    notes.push(`sequence ${sequence.name} is dropped; its down creates it again, starting over`)
  }
}
