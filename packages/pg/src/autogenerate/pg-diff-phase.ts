/**
 * When a change runs in the up: views that change go first and come back last, renamed tables
 * take their new names before anything names them, sequences and
 * enum types before the tables that use them, what goes away before what replaces it, foreign
 * keys once every table and key they name exists, dropped tables, sequences and types last.
 * The down runs the changes' inverses in the reverse order.
 */
export const Phase = {
  dropView: 0,
  renameTable: 1,
  createSequence: 2,
  createEnum: 3,
  dropForeignKey: 4,
  dropIndex: 5,
  dropConstraint: 6,
  createTable: 7,
  alterColumns: 8,
  addConstraint: 9,
  addForeignKey: 10,
  createIndex: 11,
  createView: 12,
  dropTable: 13,
  dropSequence: 14,
  dropEnum: 15,
} as const
export type Phase = (typeof Phase)[keyof typeof Phase]

/** Records one change: its statements in the up, and those that undo it. */
export type Add = (phase: Phase, up: string | string[], down: string | string[]) => void
