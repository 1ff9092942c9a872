// Move-and-copy under load (`pnpm build`, `scripts/services start`, `eval "$(scripts/services env)"`,
// then `pnpm bench:rebuild`): `flux up` of a `rebuildMigration` (id integer → bigint) on a table
// of FLUX_BENCH_ROWS rows (default 1,000,000), a whole process, while this script writes on a
// connection of its own, without pause: an insert, then two updates of random rows (and a delete
// every tenth step). Printed: the copy's rows per second, the longest time any writer statement
// took over the whole run, during the setup (which takes a lock to add the triggers) and during
// the swap (target ≤ 200 ms each), and whether every write is in the rebuilt table: its count
// and an md5 of all its rows against a copy of the table made before the run with the writer's
// own writes applied to it. The windows come from the lines `flux up` logs, timed as they
// arrive. The project lives in the system's temporary folder and imports flux through a link to
// apps/cli's node_modules; the schema is dropped at the end.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'

const here = dirname(fileURLToPath(import.meta.url))
const fluxBin = join(here, '../apps/cli/bin/flux.js')
const modules = join(here, '../apps/cli/node_modules')
const ROWS = Number(process.env.FLUX_BENCH_ROWS ?? 1_000_000)
const url = process.env.FLUX_TEST_PG_URL
if (!url) {
  console.error('FLUX_TEST_PG_URL is not set: run `eval "$(scripts/services env)"` first (scripts/services start)')
  process.exit(2)
}

const schema = `flux_bench_rebuild_${randomBytes(4).toString('hex')}`
const table = `"${schema}".booking`
const admin = new pg.Client({ connectionString: url })
await admin.connect()
const dir = await mkdtemp(join(tmpdir(), 'flux-bench-rebuild-'))
const load = () =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(' ')
console.log(`bench:rebuild — ${cpus().length} CPUs, load ${load()} at the start, ${ROWS.toLocaleString('en')} rows`)

try {
  await admin.query(`create schema "${schema}"`)
  await admin.query(`create table ${table} (
    id serial primary key, hotel_id integer not null, guest text not null, nights smallint not null, price integer not null,
    booked_at timestamptz not null default now()
  )`)
  await admin.query(`create index booking_hotel on ${table} (hotel_id)`)
  await admin.query(
    `insert into ${table} (hotel_id, guest, nights, price, booked_at)
     select g % 5000, 'guest ' || g, 1 + g % 14, 50 + g % 400, timestamptz '2026-01-01' + g * interval '1 second'
     from generate_series(1, ${ROWS}) g`,
  )
  // what the table must hold at the end: this copy, with the writer's writes applied to it after the run
  await admin.query(`create table "${schema}".expected as select * from ${table}`)
  await admin.query(`alter table "${schema}".expected add primary key (id)`)
  await admin.query(`vacuum analyze ${table}`)

  await symlink(modules, join(dir, 'node_modules'), 'dir')
  await writeFile(join(dir, 'package.json'), `${JSON.stringify({ private: true, type: 'module' })}\n`)
  await writeFile(
    join(dir, 'flux.config.ts'),
    `import { defineConfig } from '@flux/core'
import { pgStore } from '@flux/pg'
export default defineConfig({ stores: { catalog: pgStore({ url: process.env.BENCH_URL, schema: '${schema}' }) } })
`,
  )
  await import('node:fs/promises').then(({ mkdir }) => mkdir(join(dir, 'migrations')))
  await writeFile(
    join(dir, 'migrations', '001_booking_bigint.ts'),
    `import { rebuildMigration } from '@flux/pg'
export default rebuildMigration({
  store: 'catalog',
  table: 'booking',
  change: (schema) => [schema.alterColumn('booking', 'id', { type: 'bigint' })],
})
`,
  )

  // the writer: one connection, one statement after another, each timed
  const writer = new pg.Client({ connectionString: url })
  await writer.connect()
  const timings: { start: number; end: number }[] = []
  const written = new Map<number, { hotel: number; guest: string; nights: number; price: number; at: string } | null>()
  let stop = false
  let highest = ROWS
  const timed = async <T>(run: () => Promise<T>): Promise<T> => {
    const start = performance.now()
    const result = await run()
    timings.push({ start, end: performance.now() })
    return result
  }
  const writing = (async () => {
    for (let step = 0; !stop; step++) {
      if (step % 3 === 0) {
        const row = {
          hotel: step % 5000,
          guest: `writer ${step}`,
          nights: 1 + (step % 7),
          price: 99,
          at: '2026-06-01T00:00:00Z',
        }
        const { rows } = await timed(() =>
          writer.query<{ id: number }>(
            `insert into ${table} (hotel_id, guest, nights, price, booked_at) values ($1, $2, $3, $4, $5) returning id`,
            [row.hotel, row.guest, row.nights, row.price, row.at],
          ),
        )
        highest = Math.max(highest, Number(rows[0]!.id))
        written.set(Number(rows[0]!.id), row)
      } else if (step % 10 === 9) {
        const id = 1 + Math.floor(Math.random() * highest)
        const { rowCount } = await timed(() => writer.query(`delete from ${table} where id = $1`, [id]))
        if (rowCount) written.set(id, null)
      } else {
        const id = 1 + Math.floor(Math.random() * highest)
        const { rows } = await timed(() =>
          writer.query<{ hotel_id: number; guest: string; nights: number; booked_at: Date }>(
            `update ${table} set price = $2, nights = 1 + (nights % 14) where id = $1 returning hotel_id, guest, nights, booked_at`,
            [id, step % 1000],
          ),
        )
        const row = rows[0]
        if (row) {
          written.set(id, {
            hotel: row.hotel_id,
            guest: row.guest,
            nights: row.nights,
            price: step % 1000,
            at: row.booked_at.toISOString(),
          })
        }
      }
    }
  })()
  writing.catch(() => {})

  // flux up, its lines timed as they arrive
  const began = performance.now()
  const lines: { at: number; text: string }[] = []
  const child = spawn(process.execPath, [fluxBin, 'up'], {
    cwd: dir,
    env: { ...process.env, BENCH_URL: `${url}?options=-c%20search_path%3D${schema}`, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  for (const stream of [child.stdout!, child.stderr!]) {
    let pending = ''
    stream.on('data', (chunk: Buffer) => {
      pending += chunk
      const parts = pending.split('\n')
      pending = parts.pop()!
      for (const text of parts) lines.push({ at: performance.now(), text })
    })
  }
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  const ended = performance.now()
  // the writer goes on a little after the swap, into the rebuilt table
  await new Promise((resolve) => setTimeout(resolve, 1_000))
  stop = true
  await writing
  await writer.end()
  if (code !== 0) throw new Error(`flux up failed (${code}):\n${lines.map((line) => line.text).join('\n')}`)

  const lineAt = (pattern: RegExp) => lines.find((line) => pattern.test(line.text))
  const made = lineAt(/made, its trigger mirrors every write/)!
  const swapping = lineAt(/copied, swapping/)!
  const swapped = lineAt(/rows copied in this run, swapped in/)!
  const copiedRows = Number(/(\d+) rows copied in this run/.exec(swapped.text)![1])
  const swapMs = Number(/swapped in (\d+) ms/.exec(swapped.text)![1])
  const tries = Number(/at try (\d+)/.exec(swapped.text)![1])
  const longest = (from: number, to: number) =>
    Math.max(0, ...timings.filter((each) => each.end >= from && each.start <= to).map((each) => each.end - each.start))
  const sorted = timings.map((each) => each.end - each.start).sort((a, b) => a - b)

  // what the writer did, applied to the copy made before the run
  const rows = [...written]
  for (let start = 0; start < rows.length; start += 5_000) {
    const slice = rows.slice(start, start + 5_000)
    const gone = slice.filter(([, row]) => row === null).map(([id]) => id)
    const kept = slice.filter((entry): entry is [number, NonNullable<(typeof entry)[1]>] => entry[1] !== null)
    await admin.query(`delete from "${schema}".expected where id = any($1::int[])`, [gone])
    await admin.query(
      `insert into "${schema}".expected (id, hotel_id, guest, nights, price, booked_at)
       select * from unnest($1::int[], $2::int[], $3::text[], $4::int2[], $5::int[], $6::timestamptz[])
       on conflict (id) do update set hotel_id = excluded.hotel_id, guest = excluded.guest, nights = excluded.nights,
         price = excluded.price, booked_at = excluded.booked_at`,
      [
        kept.map(([id]) => id),
        kept.map(([, row]) => row.hotel),
        kept.map(([, row]) => row.guest),
        kept.map(([, row]) => row.nights),
        kept.map(([, row]) => row.price),
        kept.map(([, row]) => row.at),
      ],
    )
  }
  const checksum = async (name: string) =>
    (
      await admin.query<{ count: number; sum: string }>(
        `select count(*)::int as count, md5(string_agg(concat_ws(';', id, hotel_id, guest, nights, price, extract(epoch from booked_at)), '|' order by id)) as sum
         from "${schema}".${name}`,
      )
    ).rows[0]!
  const rebuilt = await checksum('booking')
  const wanted = await checksum('expected')
  const { rows: type } = await admin.query(
    `select data_type from information_schema.columns where table_schema = $1 and table_name = 'booking' and column_name = 'id'`,
    [schema],
  )

  const seconds = (swapping.at - made.at) / 1_000
  const ms = (value: number) => `${value.toFixed(1)} ms`
  console.log(`flux up: ${((ended - began) / 1_000).toFixed(1)} s, whole process`)
  console.log(
    `copy: ${copiedRows.toLocaleString('en')} rows in ${seconds.toFixed(1)} s, ${Math.round(copiedRows / seconds).toLocaleString('en')} rows/s (trigger mirroring the writer meanwhile)`,
  )
  console.log(`swap: ${swapMs} ms in its transaction (lock taken at try ${tries}), as the migration measured it`)
  console.log(
    `writer: ${timings.length.toLocaleString('en')} statements (${written.size.toLocaleString('en')} rows written), median ${ms(sorted[Math.floor(sorted.length / 2)] ?? 0)}, p99 ${ms(sorted[Math.floor(sorted.length * 0.99)] ?? 0)}`,
  )
  console.log(`  longest statement over the run:  ${ms(longest(began, ended))}`)
  console.log(`  longest during the setup (lock for the triggers): ${ms(longest(began, made.at))}`)
  console.log(`  longest during the swap:  ${ms(longest(swapping.at, swapped.at))} (target ≤ 200 ms)`)
  console.log(`  longest during the copy:  ${ms(longest(made.at, swapping.at))}`)
  console.log(`id is now ${type[0]?.data_type}`)
  const same = rebuilt.count === wanted.count && rebuilt.sum === wanted.sum
  console.log(
    `no write lost: ${same ? 'yes' : 'NO'} — rebuilt ${rebuilt.count.toLocaleString('en')} rows, md5 ${rebuilt.sum}; expected ${wanted.count.toLocaleString('en')} rows, md5 ${wanted.sum}`,
  )
  console.log(`load ${load()} at the end: other work on this machine shows in the figures`)
  if (!same) process.exitCode = 1
} finally {
  await admin.query(`drop schema if exists "${schema}" cascade`)
  await admin.end()
  await rm(dir, { recursive: true, force: true })
}
