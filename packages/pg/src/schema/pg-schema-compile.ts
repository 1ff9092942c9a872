import type { ColumnDefinitionBuilder, Compilable, SchemaModule } from 'kysely'
import { compileBulkDelete, compileBulkInsert } from './pg-bulk-insert.ts'
import { kysely, rawSql } from './pg-kysely.ts'
import type { ColumnDefault, ColumnSpec, SchemaOperation } from './pg-schema-ops.ts'

/**
 * The SQL statement of each operation, rendered by kysely's schema builder without a
 * connection; names are quoted, and qualified with `schema` where one is given.
 */
export function compileOperations(operations: readonly SchemaOperation[], schema?: string): string[] {
  const { offline } = kysely()
  const builder = schema === undefined ? offline.schema : offline.schema.withSchema(schema)
  return operations.flatMap((operation) => {
    // a bulk insert or delete is a statement per chunk of rows
    if (operation.kind === 'bulkInsert') return compileBulkInsert(operation, schema, operations)
    if (operation.kind === 'bulkDelete') return compileBulkDelete(operation, schema)
    return [compileOne(builder, operation)]
  })
}

function compileOne(
  schema: SchemaModule,
  operation: Exclude<SchemaOperation, { kind: 'bulkInsert' | 'bulkDelete' }>,
): string {
  switch (operation.kind) {
    case 'createTable': {
      let table = schema.createTable(operation.table)
      for (const [name, spec] of Object.entries(operation.columns)) {
        table = table.addColumn(name, rawSql(spec.type), (column) => columnOf(column, spec))
      }
      if (operation.primaryKey) {
        table = table.addPrimaryKeyConstraint(`${operation.table}_pkey`, [...operation.primaryKey] as never[])
      }
      return rendered(table)
    }
    case 'dropTable': {
      const drop = schema.dropTable(operation.table)
      return rendered(operation.cascade ? drop.cascade() : drop)
    }
    case 'renameTable':
      return rendered(schema.alterTable(operation.table).renameTo(operation.to))
    case 'addColumn':
      return rendered(
        schema
          .alterTable(operation.table)
          .addColumn(operation.column, rawSql(operation.spec.type), (column) => columnOf(column, operation.spec)),
      )
    case 'dropColumn':
      return rendered(schema.alterTable(operation.table).dropColumn(operation.column))
    case 'renameColumn':
      return rendered(schema.alterTable(operation.table).renameColumn(operation.column, operation.to))
    case 'alterColumn':
      return alterColumn(schema, operation)
    case 'createIndex': {
      const { options } = operation
      let index = schema
        .createIndex(operation.name)
        .on(operation.table)
        .columns(
          operation.columns.map((column) => (typeof column === 'string' ? column : rawSql(column.sqlExpression))),
        )
      if (options.unique) index = index.unique()
      if (options.where !== undefined) index = index.where(rawSql<boolean>(options.where))
      const text = rendered(index)
      // kysely's builder has no `concurrently`: it goes right after `create [unique] index`
      return options.concurrently ? text.replace(/^(create (unique )?index)/, '$1 concurrently') : text
    }
    case 'dropIndex': {
      const text = rendered(schema.dropIndex(operation.name))
      return operation.concurrently ? text.replace(/^drop index/, 'drop index concurrently') : text
    }
    case 'addForeignKey':
      return rendered(
        schema
          .alterTable(operation.table)
          .addForeignKeyConstraint(
            operation.name,
            [...operation.columns],
            operation.references,
            [...operation.referencedColumns],
            (key) => {
              let built = key
              if (operation.options.onDelete) built = built.onDelete(operation.options.onDelete)
              if (operation.options.onUpdate) built = built.onUpdate(operation.options.onUpdate)
              return built
            },
          ),
      )
    case 'addUnique':
      return rendered(schema.alterTable(operation.table).addUniqueConstraint(operation.name, [...operation.columns]))
    case 'addCheck':
      return rendered(
        schema.alterTable(operation.table).addCheckConstraint(operation.name, rawSql(operation.expression)),
      )
    case 'addPrimaryKey':
      return rendered(
        schema.alterTable(operation.table).addPrimaryKeyConstraint(operation.name, [...operation.columns]),
      )
    case 'dropConstraint':
      return rendered(schema.alterTable(operation.table).dropConstraint(operation.name))
    case 'createEnum':
      return rendered(schema.createType(operation.name).asEnum(operation.values))
    case 'dropEnum':
      return rendered(schema.dropType(operation.name))
    case 'addEnumValue': {
      // the builder's types forbid a neighbour equal to the value; PostgreSQL says so anyway
      const add = schema.alterType(operation.name).addValue(operation.value as string) as unknown as {
        before(value: string): Compilable
        after(value: string): Compilable
      } & Compilable
      const { before, after } = operation.options
      return rendered(before !== undefined ? add.before(before) : after !== undefined ? add.after(after) : add)
    }
    case 'sql':
      return operation.text.trim().replace(/;$/, '')
  }
}

/** `alter table … alter column …` with one clause per change, in one statement. */
function alterColumn(schema: SchemaModule, operation: Extract<SchemaOperation, { kind: 'alterColumn' }>): string {
  const { change } = operation
  let table = schema.alterTable(operation.table)
  type Altered = ReturnType<typeof table.alterColumn>
  let altered: Altered | undefined
  const alter = (build: Parameters<typeof table.alterColumn>[1]) => {
    altered = (altered ?? table).alterColumn(operation.column, build) as Altered
    table = altered as unknown as typeof table
  }
  if (change.type !== undefined) {
    const using = change.using === undefined ? '' : ` using ${change.using}`
    alter((column) => column.setDataType(rawSql(`${change.type}${using}`)))
  }
  if (change.notNull === true) alter((column) => column.setNotNull())
  if (change.notNull === false) alter((column) => column.dropNotNull())
  if (change.default === null) alter((column) => column.dropDefault())
  else if (change.default !== undefined) {
    const value = change.default
    alter((column) => column.setDefault(defaultOf(value)))
  }
  if (!altered) throw new Error(`alterColumn ${operation.table}.${operation.column} changes nothing`)
  return rendered(altered)
}

function columnOf(column: ColumnDefinitionBuilder, spec: ColumnSpec): ColumnDefinitionBuilder {
  let built = column
  if (spec.primaryKey) built = built.primaryKey()
  if (spec.notNull) built = built.notNull()
  if (spec.default !== undefined) built = built.defaultTo(defaultOf(spec.default))
  if (spec.unique) built = built.unique()
  if (spec.references !== undefined) built = built.references(spec.references)
  if (spec.onDelete) built = built.onDelete(spec.onDelete)
  if (spec.onUpdate) built = built.onUpdate(spec.onUpdate)
  if (spec.check !== undefined) built = built.check(rawSql(spec.check))
  return built
}

function defaultOf(value: ColumnDefault) {
  return typeof value === 'object' ? rawSql(value.sqlExpression) : value
}

/** The statement's SQL; DDL takes no parameters, so kysely inlines every value. */
function rendered(builder: Compilable): string {
  const compiled = builder.compile()
  if (compiled.parameters.length > 0) throw new Error(`schema operation compiled with parameters: ${compiled.sql}`)
  return compiled.sql
}
