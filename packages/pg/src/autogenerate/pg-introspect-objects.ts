import type { Queryable } from '../pg-client.ts'

export interface ViewModel {
  name: string
  /** The query, as `pg_get_viewdef` prints it, without its final `;`. */
  definition: string
  /** Tables and views it reads, by name. */
  dependsOn: string[]
}

export interface SequenceModel {
  name: string
  /** `as bigint increment by 1 minvalue 1 maxvalue … start with 1 cache 1 no cycle`. */
  definition: string
}

/** The views of `schema`, in the order they were created (so each after those it reads). */
export async function introspectViews(connection: Queryable, schema: string): Promise<ViewModel[]> {
  const { rows } = await connection.query<{ name: string; definition: string; depends_on: string[] | string }>(
    `select quote_ident(c.relname) as name, pg_get_viewdef(c.oid, true) as definition,
       coalesce((select json_agg(distinct quote_ident(t.relname)) from pg_rewrite r
                 join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = r.oid
                 join pg_class t on t.oid = d.refobjid
                 where r.ev_class = c.oid and t.oid <> c.oid), '[]') as depends_on
     from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = $1 and c.relkind = 'v'
       and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
     order by c.oid`,
    [schema],
  )
  return rows.map((row) => ({
    name: row.name,
    definition: row.definition.trim().replace(/;$/, ''),
    dependsOn: typeof row.depends_on === 'string' ? (JSON.parse(row.depends_on) as string[]) : row.depends_on,
  }))
}

/** The sequences of `schema` that no column owns (those of serial and identity columns go with them). */
export async function introspectSequences(connection: Queryable, schema: string): Promise<SequenceModel[]> {
  const { rows } = await connection.query<{ name: string; definition: string }>(
    `select quote_ident(c.relname) as name,
       format('as %s increment by %s minvalue %s maxvalue %s start with %s cache %s %s', format_type(s.seqtypid, null),
              s.seqincrement, s.seqmin, s.seqmax, s.seqstart, s.seqcache, case when s.seqcycle then 'cycle' else 'no cycle' end) as definition
     from pg_sequence s join pg_class c on c.oid = s.seqrelid join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = $1
       and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype in ('a', 'i', 'e'))
     order by c.relname`,
    [schema],
  )
  return rows
}
