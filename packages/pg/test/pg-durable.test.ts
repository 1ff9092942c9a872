import { migrate } from '@flux/core'
import pg from 'pg'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { pgStore } from '../src/index.ts'
import { deferOf } from '../src/pg-client.ts'
import { testProject } from './pg-project.ts'
import { adminPool, describeWithServer, randomSchema } from './pg-test-helpers.ts'

// What `synchronous_commit` each migration's COMMIT ran with, as the server saw it: a deferred
// constraint trigger runs at COMMIT, after everything flux sends before it, and notes the setting.
describeWithServer('durable for one flush per script', (url) => {
  const schema = randomSchema()
  const pools: pg.Pool[] = []
  /** A pool whose sessions start with `synchronous_commit` as given (as a user's role or URL would set it). */
  const pool = (setting: string) => {
    const opened = new pg.Pool({ connectionString: url, options: `-c synchronous_commit=${setting}` })
    pools.push(opened)
    return opened
  }

  beforeAll(async () => {
    await adminPool(url).query(`
      create schema "${schema}";
      create table "${schema}".item (id int not null, label text not null);
      create table "${schema}".seen (id int not null, label text not null, setting text not null);
      create function "${schema}".note() returns trigger language plpgsql as $$
      begin
        insert into "${schema}".seen values (new.id, new.label, current_setting('synchronous_commit'));
        return null;
      end $$;
      create constraint trigger at_commit after insert on "${schema}".item
        deferrable initially deferred for each row execute function "${schema}".note();`)
  })
  afterAll(async () => {
    for (const opened of pools) await opened.end()
    await adminPool(url).query(`drop schema if exists "${schema}" cascade`)
  })

  const migrations = (label: string, count: number) =>
    Array.from({ length: count }, (_, offset) => ({
      name: `${String(offset + 1).padStart(4, '0')}_${label}`,
      sql: `-- flux:store catalog\n-- flux:up\ninsert into "${schema}".item values (${offset + 1}, '${label}');`,
    }))
  /** The setting each migration's commit ran with, in order. */
  const settings = async (label: string) => {
    const { rows } = await adminPool(url).query<{ setting: string }>(
      `select setting from "${schema}".seen where label = $1 order by id`,
      [label],
    )
    return rows.map((row) => row.setting)
  }

  it("with synchronous_commit on, only the batch's last commit waits for the disk, and a script's last every 250 ms at most", async () => {
    const project = testProject(
      { catalog: pgStore({ pool: pool('on'), schema: `${schema}_on` }) },
      migrations('on', 40),
    )
    const report = await migrate(project, { direction: 'up' })
    expect(report.error).toBeUndefined()
    expect(report.steps.filter((step) => step.status === 'applied')).toHaveLength(40)
    const seen = await settings('on')
    expect(seen).toHaveLength(40)
    // scripts of 32: only the end of one may wait (when 250 ms passed since the batch began)
    expect(seen.filter((setting, index) => setting === 'on' && index !== 31 && index !== 39)).toEqual([])
    expect(seen[39]).toBe('on')
  })

  it('a long batch waits for the disk again once 250 ms have passed, at the end of a script', async () => {
    // 100 migrations of 5 ms each: the third script is sent ≥ 320 ms after the batch began
    const slow = Array.from({ length: 100 }, (_, offset) => ({
      name: `${String(offset + 1).padStart(4, '0')}_slow`,
      sql: `-- flux:store catalog\n-- flux:up\nselect pg_sleep(0.005);\ninsert into "${schema}".item values (${offset + 1}, 'slow');`,
    }))
    const project = testProject({ catalog: pgStore({ pool: pool('on'), schema: `${schema}_slow` }) }, slow)
    const report = await migrate(project, { direction: 'up' })
    expect(report.error).toBeUndefined()
    const seen = await settings('slow')
    const waited = seen.flatMap((setting, index) => (setting === 'on' ? [index] : []))
    expect(waited.every((index) => [31, 63, 95, 99].includes(index))).toBe(true)
    expect(waited.at(-1)).toBe(99)
    expect(waited.length).toBeGreaterThanOrEqual(2)
  })

  it('a session whose synchronous_commit is already off keeps it off for every commit', async () => {
    const project = testProject(
      { catalog: pgStore({ pool: pool('off'), schema: `${schema}_off` }) },
      migrations('off', 5),
    )
    const report = await migrate(project, { direction: 'up' })
    expect(report.error).toBeUndefined()
    expect(await settings('off')).toEqual(['off', 'off', 'off', 'off', 'off'])
  })

  it('a session with remote_apply keeps it for the commit that waits', async () => {
    const project = testProject(
      { catalog: pgStore({ pool: pool('remote_apply'), schema: `${schema}_remote` }) },
      migrations('remote', 3),
    )
    const report = await migrate(project, { direction: 'up' })
    expect(report.error).toBeUndefined()
    expect(await settings('remote')).toEqual(['off', 'off', 'remote_apply'])
  })

  it('a failing migration: those before it are reported applied once durable, and they are in the store', async () => {
    const store = pgStore({ pool: pool('on'), schema: `${schema}_fail` })
    await store.open()
    try {
      const told: number[] = []
      const outcome = await store.transactionBatch!(
        [1, 2, 3, 4].map((id) => async (client) => {
          deferOf(client)!(`insert into "${schema}".item values (${id === 4 ? 'null' : id}, 'fail')`)
        }),
        { onCommit: (committed) => told.push(committed) },
      )
      expect(outcome.committed).toBe(3)
      expect(outcome.failed?.index).toBe(3)
      expect(String(outcome.failed?.error)).toContain('null value')
      // told nothing while the commits had not reached the disk; the outcome tells them after the flush
      expect(told).toEqual([])
      expect(await settings('fail')).toEqual(['off', 'off', 'off'])
    } finally {
      await store.close()
    }
  })
})
