// (c) A runner frozen past its lease's ttl (SIGSTOP), its lease taken over by another runner,
// then thawed (SIGCONT): from the take-over on, the store refuses its ledger writes, and its
// migration's own writes too where the contract says so (a transaction on pg); it starts no
// other step, and exits 1 saying its lease was taken over and by whom.
import { writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import type { StatusRow } from '@flux/core'
import { expect, it } from 'vitest'
import {
  describeStore,
  expectNoStack,
  faultProject,
  finish,
  migrationSource,
  pauseFirstRunner,
  waitForStart,
} from './fault-project.ts'
import { measure, type PauseFigures } from './figures.ts'
import type { Effect } from './store-kit.ts'
import { FAULT_STORES } from './stores.ts'

const TTL_MS = 1500
const PAUSED = '001_paused'
const NEXT = '002_next'

/** What a ledger row says, to tell whether a runner wrote it. */
const stateOf = (row: StatusRow | undefined) =>
  row ? JSON.stringify([row.status, row.runId, row.appliedAt, row.durationMs]) : 'absent'

for (const store of FAULT_STORES) {
  describeStore(store, 'a runner frozen past the lease ttl, then thawed', () => {
    it('makes no write after the take-over that the contract fences, and exits 1 naming the new holder', () =>
      measure<PauseFigures>(
        'c',
        store.name,
        {
          staleLedgerWrites: null,
          staleStoreWrites: null,
          inFlightWrites: null,
          contract: store.contract,
          namesHolder: null,
          staleError: '',
        },
        async (figures) => {
          const project = await faultProject(store, {
            lease: `{ ttlMs: ${TTL_MS}, waitMs: 30000 }`,
            // the first runner to start 001 says so, then waits for go.flag; any later one runs it straight through
            migrations: (effect, dir) => ({
              [PAUSED]: migrationSource(effect(PAUSED), {
                before: pauseFirstRunner(dir),
              }),
              [NEXT]: migrationSource(effect(NEXT)),
            }),
          })
          const a = project.start(['up'])
          const aDone = finish(a)
          try {
            await waitForStart(project, a, aDone)
            a.kill('SIGSTOP')
            // the fault itself: A stays frozen past its lease's ttl (it renews every third of it)
            await sleep(TTL_MS + 500)
            const bProcess = project.start(['up'])
            const b = await finish(bProcess)

            if (store.name === 'pglite') {
              // PGlite lets one process at a time open its data directory: B cannot open it, so
              // nobody takes the lease over, and A, thawed, finishes its run
              figures.unavailable = 'B cannot open the directory A has open'
              expect(b.code, b.stderr).toBe(1)
              expect(b.stderr).toContain(`it is open in process ${a.pid}`)
              await writeFile(project.path('go.flag'), '')
              a.kill('SIGCONT')
              const aResult = await aDone
              expect(aResult.code, aResult.stderr).toBe(0)
              await project.expectExactlyOnce()
              return
            }

            const before = await project.rows()
            const effectsBefore = await project.namespace.effects()
            await writeFile(project.path('go.flag'), '')
            a.kill('SIGCONT')
            const aResult = await aDone
            const after = await project.rows()
            const effectsAfter = await project.namespace.effects()

            figures.staleError = aResult.stderr.split('\n').find((line) => line.startsWith('error:')) ?? ''
            figures.namesHolder =
              aResult.stderr.includes('taken over') &&
              aResult.stderr.includes(`pid ${bProcess.pid}`) &&
              aResult.stderr.includes(hostname())
            figures.staleLedgerWrites = project.names.filter(
              (name) => stateOf(before.get(name)) !== stateOf(after.get(name)),
            ).length
            const byA = (effects: Effect[]) => effects.filter((effect) => effect.pid === a.pid)
            // the migration A was running when it froze: its own writes are fenced only where it has a transaction
            figures.inFlightWrites = store.transactional
              ? 0
              : byA(effectsAfter).filter((effect) => effect.name === PAUSED).length
            figures.staleStoreWrites = byA(effectsAfter).length - byA(effectsBefore).length - figures.inFlightWrites

            // B took the lease over: on pg it ran both migrations (A's transaction had not
            // committed); elsewhere A's `running` entry shows 001 dirty, which B refuses to run over
            if (store.transactional) {
              expect(b.code, b.stderr).toBe(0)
            } else {
              expect(b.code, b.stderr).toBe(3)
              expect(b.stderr).toContain(`app/${PAUSED}`)
              expect(before.get(PAUSED)?.status).toBe('dirty')
            }
            expect(figures.staleLedgerWrites, 'ledger entries the stale runner wrote after the take-over').toBe(0)
            expect(figures.staleStoreWrites, 'store writes of the stale runner the contract fences').toBe(0)
            expect(aResult.code, aResult.stderr).toBe(1)
            expect(aResult.stderr).toContain('taken over')
            expect(aResult.stderr, 'the stale runner is told who took over').toContain(`pid ${bProcess.pid}`)
            expect(aResult.stderr).toContain(hostname())
            expectNoStack(aResult.stderr)
            expect(after.get(PAUSED)?.status).toBe(store.transactional ? 'applied' : 'dirty')
          } finally {
            // a failed assertion must not leave A frozen
            if (a.exitCode === null && a.signalCode === null) a.kill('SIGKILL')
            await aDone
          }

          // an operator settles what A left, and the project ends with each migration applied once
          await project.settle()
          await project.expectExactlyOnce()
        },
      ))
  })
}
