import type { Queryable } from '../pg-client.ts'
import { introspectSequences, introspectViews, type SequenceModel, type ViewModel } from './pg-introspect-objects.ts'

/**
 * One schema as autogenerate compares it. Every name is as `quote_ident()` gives it, and
 * every type, default and definition as pg_catalog prints it with the schema itself first in
 * `search_path` (so its own tables and types are unqualified): both sides of a comparison are
 * read the same way, and the text goes into the migration as it is.
 */
export interface SchemaModel {
  tables: Map<string, TableModel>
  enums: Map<string, EnumModel>
  /** Views, in the order they were created. Absent: none. */
  views?: ViewModel[]
  /** Sequences no column owns. Absent: none. */
  sequences?: SequenceModel[]
  /** What the schema has that autogenerate does not compare yet: `materialized view totals`, `function touch`. */
  uncompared?: string[]
}

export interface TableModel {
  name: string
  columns: ColumnModel[]
  constraints: ConstraintModel[]
  indexes: IndexModel[]
}

export interface ColumnModel {
  name: string
  /** `integer`, `character varying(20)`, `mood`. */
  type: string
  notNull: boolean
  /** Its default expression (for a generated column, its expression); absent without one. */
  default?: string
  /** `serial`, `bigserial` or `smallserial`: a default from a sequence the column owns. */
  serial?: string
  /** `always` or `by default` for an identity column. */
  identity?: string
  /** A stored generated column (`generated always as (…) stored`), whose expression is `default`. */
  generated?: boolean
}

export interface ConstraintModel {
  name: string
  /** `p` primary key, `u` unique, `f` foreign key, `c` check, `x` exclusion. */
  type: string
  /** `PRIMARY KEY (id)`, `FOREIGN KEY (hotel_id) REFERENCES hotel(id)`. */
  definition: string
}

export interface IndexModel {
  name: string
  /** `CREATE INDEX room_n ON room USING btree (n)`: the table unqualified. */
  definition: string
}

export interface EnumModel {
  name: string
  /** Labels in their order, as SQL literals: `'ok'`. */
  values: string[]
}

const SERIALS: Record<string, string> = { integer: 'serial', bigint: 'bigserial', smallint: 'smallserial' }

/**
 * Reads tables (not views, not partitions), their columns, constraints and indexes, and enum
 * types of `schema`, leaving out the tables named in `exclude` (flux's ledger) and what an
 * extension owns (PostGIS's `spatial_ref_sys`). Run it with `search_path` set to `schema` alone.
 */
export async function introspect(
  connection: Queryable,
  schema: string,
  exclude: readonly string[],
): Promise<SchemaModel> {
  const parameters = [schema, exclude]
  const tables = await connection.query<{ name: string }>(
    `select quote_ident(c.relname) as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = $1 and c.relkind in ('r', 'p') and not c.relispartition and c.relname <> all($2::text[])
       and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
     order by c.relname`,
    parameters,
  )
  const model: SchemaModel = { tables: new Map(), enums: new Map() }
  for (const { name } of tables.rows) model.tables.set(name, { name, columns: [], constraints: [], indexes: [] })

  const columns = await connection.query<{
    table: string
    name: string
    type: string
    not_null: boolean
    default: string | null
    identity: string
    generated: string
    owns_sequence: boolean
  }>(
    `select quote_ident(c.relname) as table, quote_ident(a.attname) as name,
       format_type(a.atttypid, a.atttypmod) as type, a.attnotnull as not_null,
       pg_get_expr(d.adbin, d.adrelid) as default, a.attidentity as identity, a.attgenerated as generated,
       pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), a.attname) is not null as owns_sequence
     from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
     left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
     where n.nspname = $1 and c.relkind in ('r', 'p') and c.relname <> all($2::text[])
       and a.attnum > 0 and not a.attisdropped
     order by c.relname, a.attnum`,
    parameters,
  )
  for (const row of columns.rows) {
    const column: ColumnModel = { name: row.name, type: row.type, notNull: row.not_null }
    if (row.default !== null) column.default = row.default
    if (row.identity === 'a' || row.identity === 'd') column.identity = row.identity === 'a' ? 'always' : 'by default'
    else if (row.owns_sequence && row.default?.startsWith('nextval(') && SERIALS[row.type]) {
      column.serial = SERIALS[row.type]
    }
    if (row.generated === 's') column.generated = true
    model.tables.get(row.table)?.columns.push(column)
  }

  const constraints = await connection.query<{ table: string; name: string; type: string; definition: string }>(
    `select quote_ident(c.relname) as table, quote_ident(con.conname) as name, con.contype as type,
       pg_get_constraintdef(con.oid) as definition
     from pg_constraint con join pg_class c on c.oid = con.conrelid join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = $1 and c.relname <> all($2::text[]) and con.contype in ('p', 'u', 'f', 'c', 'x')
     order by c.relname, con.contype <> 'p', con.contype, con.conname`,
    parameters,
  )
  for (const row of constraints.rows) {
    model.tables.get(row.table)?.constraints.push({ name: row.name, type: row.type, definition: row.definition })
  }

  // indexes of their own, not those behind a primary key, unique or exclusion constraint
  const indexes = await connection.query<{ table: string; name: string; definition: string }>(
    `select quote_ident(t.relname) as table, quote_ident(i.relname) as name, pg_get_indexdef(x.indexrelid) as definition
     from pg_index x join pg_class i on i.oid = x.indexrelid join pg_class t on t.oid = x.indrelid
     join pg_namespace n on n.oid = t.relnamespace
     where n.nspname = $1 and t.relname <> all($2::text[])
       and not exists (select 1 from pg_constraint con where con.conindid = x.indexrelid
                       and con.conrelid = x.indrelid and con.contype in ('p', 'u', 'x'))
     order by t.relname, i.relname`,
    parameters,
  )
  for (const row of indexes.rows) {
    // pg_get_indexdef always qualifies the table; the migration runs in the store's search_path
    const definition = row.definition.replace(/ ON (ONLY )?(?:"(?:[^"]|"")+"|[^ ."]+)\./, ' ON $1')
    model.tables.get(row.table)?.indexes.push({ name: row.name, definition })
  }

  const enums = await connection.query<{ name: string; values: string[] | string }>(
    `select quote_ident(t.typname) as name, json_agg(quote_literal(e.enumlabel) order by e.enumsortorder) as values
     from pg_type t join pg_enum e on e.enumtypid = t.oid join pg_namespace n on n.oid = t.typnamespace
     where n.nspname = $1
       and not exists (select 1 from pg_depend d where d.classid = 'pg_type'::regclass and d.objid = t.oid and d.deptype = 'e')
     group by t.typname order by t.typname`,
    [schema],
  )
  for (const row of enums.rows) {
    const values = typeof row.values === 'string' ? (JSON.parse(row.values) as string[]) : row.values
    model.enums.set(row.name, { name: row.name, values })
  }
  const others = await connection.query<{ what: string }>(
    `select case c.relkind when 'm' then 'materialized view ' when 'f' then 'foreign table ' else 'partition ' end
              || quote_ident(c.relname) as what
     from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = $1 and (c.relkind in ('m', 'f') or (c.relkind in ('r', 'p') and c.relispartition))
     union
     select 'function ' || quote_ident(p.proname) from pg_proc p join pg_namespace n on n.oid = p.pronamespace
     where n.nspname = $1 and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass
                                          and d.objid = p.oid and d.deptype = 'i')
     union
     select 'type ' || quote_ident(t.typname) from pg_type t join pg_namespace n on n.oid = t.typnamespace
     where n.nspname = $1 and t.typtype in ('c', 'd', 'r') and (t.typtype <> 'c' or
       (select relkind from pg_class where oid = t.typrelid) = 'c')
     order by 1`,
    [schema],
  )
  model.uncompared = others.rows.map((row) => row.what)
  model.views = await introspectViews(connection, schema)
  model.sequences = await introspectSequences(connection, schema)
  return model
}
