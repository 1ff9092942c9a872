import type { PgClient } from '../pg-client.ts'

/** PostgreSQL's longest identifier, in bytes. */
const NAME_LENGTH = 63

/** A table as the catalog has it, at the start of a rebuild. */
export interface RebuiltTable {
  oid: number
  schema: string
  name: string
  /** Columns in order, without the generated ones (which an insert may not name). */
  columns: string[]
  /** The primary key's columns, in its order. */
  key: string[]
}

/** An index of the old table, and how it is made again on the new one. */
export interface TableIndex {
  name: string
  /** `primary key (id)` for a constraint's index, `create index … using btree (name)`'s tail otherwise. */
  definition: string
  /** The name of the constraint it backs (primary key, unique, exclusion), if any. */
  constraint: boolean
}

/** The table named `table` (`hotels` or `schema.hotels`, as the search path finds it), or `undefined`. */
export async function tableOf(store: PgClient, table: string): Promise<RebuiltTable | undefined> {
  const { rows } = await store.query<{ oid: number; schema: string; name: string }>(
    `select c.oid::int8 as oid, n.nspname as schema, c.relname as name
     from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.oid = to_regclass($1)`,
    [table.includes('"') ? table : table.split('.').map(quoteIdentifier).join('.')],
  )
  const found = rows[0]
  if (!found) return undefined
  const oid = Number(found.oid)
  const columns = await store.query<{ name: string }>(
    `select attname as name from pg_attribute
     where attrelid = $1 and attnum > 0 and not attisdropped and attgenerated = '' order by attnum`,
    [oid],
  )
  const key = await store.query<{ name: string }>(
    `select a.attname as name from pg_constraint c
     cross join lateral unnest(c.conkey) with ordinality as k(attnum, position)
     join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum
     where c.conrelid = $1 and c.contype = 'p' order by k.position`,
    [oid],
  )
  return {
    oid,
    schema: found.schema,
    name: found.name,
    columns: columns.rows.map((row) => row.name),
    key: key.rows.map((row) => row.name),
  }
}

/** The oid of `schema.name`, or `undefined`. */
export async function oidOf(store: PgClient, schema: string, name: string): Promise<number | undefined> {
  const { rows } = await store.query<{ oid: string | null }>(`select to_regclass($1)::oid::int8 as oid`, [
    `${quoteIdentifier(schema)}.${quoteIdentifier(name)}`,
  ])
  return rows[0]?.oid == null ? undefined : Number(rows[0].oid)
}

/**
 * What a rebuild cannot carry over to the new table, one line each: what would still point at
 * the old table after the swap (foreign keys from other tables, views), or would be lost
 * (triggers, row security policies), or what it cannot copy (a partitioned or inherited table,
 * no primary key). Empty: the table can be rebuilt.
 */
export async function obstaclesOf(store: PgClient, table: RebuiltTable): Promise<string[]> {
  const { rows } = await store.query<{ obstacle: string }>(
    `select 'it is not a plain table (relkind ' || relkind::text || ')' as obstacle from pg_class where oid = $1 and relkind <> 'r'
     union all select 'it has no primary key, which rows are copied and mirrored by'
       where not exists (select from pg_constraint where conrelid = $1 and contype = 'p')
     union all select 'it inherits from, or is inherited by, ' || string_agg(
         case when inhrelid = $1 then inhparent else inhrelid end::regclass::text, ', ')
       from pg_inherits where inhrelid = $1 or inhparent = $1 having count(*) > 0
     union all select 'foreign key ' || quote_ident(conname) || ' of table ' || conrelid::regclass::text || ' references it'
       from pg_constraint where confrelid = $1 and contype = 'f'
     union all select distinct 'view ' || r.ev_class::regclass::text || ' reads it'
       from pg_depend d join pg_rewrite r on r.oid = d.objid
       where d.classid = 'pg_rewrite'::regclass and d.refobjid = $1 and r.ev_class <> $1
     union all select 'trigger ' || quote_ident(tgname) || ' is on it'
       from pg_trigger where tgrelid = $1 and not tgisinternal
     union all select 'row security policy ' || quote_ident(polname) || ' is on it' from pg_policy where polrelid = $1`,
    [table.oid],
  )
  return rows.map((row) => row.obstacle)
}

/** The indexes of a table, those backing a constraint as the constraint's definition. */
export async function indexesOf(store: PgClient, oid: number): Promise<TableIndex[]> {
  const { rows } = await store.query<{ name: string; index: string; constraint: string | null }>(
    `select i.relname as name, pg_get_indexdef(i.oid) as index, pg_get_constraintdef(c.oid) as constraint
     from pg_index x join pg_class i on i.oid = x.indexrelid
     left join pg_constraint c on c.conindid = x.indexrelid and c.conrelid = x.indrelid and c.contype in ('p', 'u', 'x')
     where x.indrelid = $1 order by i.oid`,
    [oid],
  )
  return rows.map((row) => {
    if (row.constraint !== null) return { name: row.name, definition: row.constraint, constraint: true }
    // `CREATE [UNIQUE] INDEX name ON [ONLY] table USING method (…)…`: what follows `USING` is kept
    const using = row.index.indexOf(' USING ')
    const unique = row.index.startsWith('CREATE UNIQUE ')
    return {
      name: row.name,
      definition: `${unique ? 'unique ' : ''}using${row.index.slice(using + ' USING'.length)}`,
      constraint: false,
    }
  })
}

/** The foreign keys of a table to others, as `alter table … add constraint` takes them. */
export async function foreignKeysOf(store: PgClient, oid: number): Promise<{ name: string; definition: string }[]> {
  const { rows } = await store.query<{ name: string; definition: string }>(
    `select conname as name, pg_get_constraintdef(oid) as definition from pg_constraint
     where conrelid = $1 and contype = 'f' order by oid`,
    [oid],
  )
  return rows
}

/** `grant` statements that give `to` what the table `from` grants to roles other than the current one. */
export async function grantsOf(store: PgClient, oid: number, to: string): Promise<string[]> {
  const { rows } = await store.query<{ statement: string }>(
    `select format('grant %s on %s to %s%s', a.privilege_type, $2::text,
        case when a.grantee = 0 then 'public' else quote_ident(pg_get_userbyid(a.grantee)) end,
        case when a.is_grantable then ' with grant option' else '' end) as statement
     from pg_class c cross join lateral aclexplode(c.relacl) a
     where c.oid = $1 and a.grantee <> (select oid from pg_roles where rolname = current_user)`,
    [oid, to],
  )
  return rows.map((row) => row.statement)
}

/** Sequences a table's columns own (`serial`, identity), by column. */
export async function sequencesOf(
  store: PgClient,
  oid: number,
): Promise<{ column: string; sequence: string; identity: boolean }[]> {
  const { rows } = await store.query<{ column: string; sequence: string; identity: boolean }>(
    `select a.attname as column, s.relname as sequence, d.deptype = 'i' as identity
     from pg_depend d join pg_class s on s.oid = d.objid and s.relkind = 'S'
     join pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
     where d.classid = 'pg_class'::regclass and d.refobjid = $1 and d.deptype in ('a', 'i') order by a.attnum`,
    [oid],
  )
  return rows
}

/** Whether the mirroring trigger of a rebuild is on the table. */
export async function hasMirror(store: PgClient, oid: number, trigger: string): Promise<boolean> {
  const { rows } = await store.query(`select from pg_trigger where tgrelid = $1 and tgname = $2`, [oid, trigger])
  return rows.length > 0
}

/**
 * `name` with `suffix`, within PostgreSQL's 63 bytes: a longer name is cut and keeps a short
 * hash of its whole, so two long names that share a start stay distinct.
 */
export function suffixed(name: string, suffix: string): string {
  const whole = `${name}${suffix}`
  if (Buffer.byteLength(whole) <= NAME_LENGTH) return whole
  let hash = 0
  for (const character of name) hash = (Math.imul(hash, 31) + character.codePointAt(0)!) >>> 0
  const tail = `_${hash.toString(36)}${suffix}`
  let head = name
  while (Buffer.byteLength(head) + Buffer.byteLength(tail) > NAME_LENGTH) head = head.slice(0, -1)
  return `${head}${tail}`
}

export const quoteIdentifier = (identifier: string) => `"${identifier.replaceAll('"', '""')}"`
