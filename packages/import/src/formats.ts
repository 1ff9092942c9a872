import { alembic } from './formats/alembic.ts'
import { diesel } from './formats/diesel.ts'
import { django } from './formats/django.ts'
import { drizzle } from './formats/drizzle.ts'
import { flyway } from './formats/flyway.ts'
import { golangMigrate } from './formats/golang-migrate.ts'
import { knex } from './formats/knex.ts'
import { migrateMongo } from './formats/migrate-mongo.ts'
import { nodePgMigrate } from './formats/node-pg-migrate.ts'
import { prisma } from './formats/prisma.ts'
import { sqitch } from './formats/sqitch.ts'
import { umzug } from './formats/umzug.ts'
import type { ImportFormat } from './import-format.ts'

/** Every tool `flux import` knows, in the order `flux import --help` lists them. A new format joins here. */
export const IMPORT_FORMATS: readonly ImportFormat[] = [
  golangMigrate,
  drizzle,
  prisma,
  diesel,
  flyway,
  sqitch,
  migrateMongo,
  knex,
  nodePgMigrate,
  alembic,
  django,
  umzug,
]

/** The format of `tool`, or `undefined`. */
export function formatOf(tool: string): ImportFormat | undefined {
  return IMPORT_FORMATS.find((format) => format.tool === tool)
}
