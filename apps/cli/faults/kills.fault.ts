// (b) The runner killed with SIGKILL at random points, again and again: nothing is applied
// twice, nothing is recorded without having been applied, and every migration that was in
// flight is either rolled back or left dirty and named by the next `up`.
import { setTimeout as sleep } from 'node:timers/promises'
import { expect, it } from 'vitest'
import {
  describeStore,
  faultProject,
  finish,
  migrationNames,
  migrationSource,
  startedBy,
  waitFor,
} from './fault-project.ts'
import { type KillsFigures, measure } from './figures.ts'
import { FAULT_STORES } from './stores.ts'

const KILLS = 10
/** Enough that ten kills, each after a few migrations, do not run out of them. */
const MIGRATIONS = 50
const STARTED = 'started.log'

for (const store of FAULT_STORES) {
  describeStore(store, 'SIGKILL at random points', () => {
    it(`${KILLS} kills: no double apply, no silent skip, every in-flight migration rolled back or dirty and named`, () =>
      measure<KillsFigures>(
        'b',
        store.name,
        { kills: 0, doubles: 0, silentSkips: 0, dirty: 0, named: 0, rolledBack: 0, unrecorded: 0 },
        async (figures) => {
          const project = await faultProject(store, {
            // a killed runner's lease is taken over at once (its pid is gone); the ttl bounds the rest
            lease: '{ ttlMs: 3000, waitMs: 30000 }',
            migrations: (effect, dir) =>
              Object.fromEntries(
                migrationNames(MIGRATIONS).map((name) => [
                  name,
                  migrationSource(effect(name), {
                    before: `appendFileSync(${JSON.stringify(`${dir}/${STARTED}`)}, \`${name} \${process.pid}\\n\`)
    await sleep(Math.random() * 8)`,
                    after: 'await sleep(Math.random() * 8)',
                  }),
                ]),
              ),
          })
          const doubled = new Set<string>()
          const skipped = new Set<string>()
          /** Counts doubles and silent skips from what the store and its ledger say now. */
          const inspect = async () => {
            const rows = await project.rows()
            const counts = await project.counts()
            for (const name of project.names) {
              const count = counts.get(name) ?? 0
              if (count > 1) doubled.add(name)
              if (rows.get(name)?.status === 'applied' && count === 0) skipped.add(name)
            }
            figures.doubles = doubled.size
            figures.silentSkips = skipped.size
            return { rows, counts }
          }

          for (let trial = 0; figures.kills < KILLS; trial++) {
            if (trial > KILLS * 3)
              throw new Error(`only ${figures.kills} of ${trial} runs were killed before they ended`)
            const child = project.start(['up'])
            const done = finish(child)
            let exited = false
            child.on('exit', () => {
              exited = true
            })
            // a random point: while flux starts, loads, leases and reads (one trial in four: at a
            // random time before its first migration begins), or a few milliseconds after the
            // first, second or third migration of this run began
            const migrationsIn = trial % 4
            const started = async () => (await startedBy(project.path(STARTED), child.pid)).length
            const killAt = Date.now() + Math.random() * 1500
            await waitFor(
              async () =>
                exited ||
                (migrationsIn === 0
                  ? Date.now() >= killAt || (await started()) > 0
                  : (await started()) >= migrationsIn),
              `migration ${migrationsIn} of run ${trial} to start`,
              60_000,
            )
            if (migrationsIn > 0) await sleep(Math.random() * 12)
            child.kill('SIGKILL')
            const result = await done
            if (result.signal !== 'SIGKILL') {
              expect(result.code, result.stderr).toBe(0)
              continue
            }
            figures.kills += 1

            const { rows, counts } = await inspect()
            const inFlight = (await startedBy(project.path(STARTED), child.pid)).filter(
              (name) => rows.get(name)?.status !== 'applied',
            )
            // (a kill between a `running` entry and the migration's first line leaves one dirty that the log does not show)
            const dirty = project.names.filter((name) => rows.get(name)?.status === 'dirty')
            for (const name of inFlight) {
              if (dirty.includes(name)) continue
              // not dirty: rolled back, so the store must hold nothing of it (else the next run applies it twice)
              if ((counts.get(name) ?? 0) === 0) figures.rolledBack += 1
              else figures.unrecorded += 1
            }
            if (dirty.length > 0) {
              figures.dirty += dirty.length
              const refused = await project.refuseAndResolve()
              figures.named += refused.named.filter((name) => dirty.includes(name)).length
            }
          }
          await project.settle()
          await inspect()

          expect(figures.kills).toBeGreaterThanOrEqual(KILLS)
          expect(figures.doubles).toBe(0)
          expect(figures.silentSkips).toBe(0)
          expect(figures.unrecorded).toBe(0)
          expect(figures.named).toBe(figures.dirty)
          await project.expectExactlyOnce()
        },
      ))
  })
}
