/**
 * When a change runs in the up: views that change go first and come back last, sequences and
 * enum types before the tables that use them, what goes away before what replaces it, foreign
 * keys once every table and key they name exists, dropped tables, sequences and types last.
 * The down runs the changes' inverses in the reverse order.
 */
export const Phase = {
  dropView: 0,
  createSequence: 1,
  createEnum: 2,
  dropForeignKey: 3,
  dropIndex: 4,
  dropConstraint: 5,
  createTable: 6,
  alterColumns: 7,
  addConstraint: 8,
  addForeignKey: 9,
  createIndex: 10,
  createView: 11,
  dropTable: 12,
  dropSequence: 13,
  dropEnum: 14,
} as const
export type Phase = (typeof Phase)[keyof typeof Phase]

/** Records one change: its statements in the up, and those that undo it. */
export type Add = (phase: Phase, up: string | string[], down: string | string[]) => void
