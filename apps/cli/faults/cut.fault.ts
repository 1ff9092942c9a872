// (d) The store's connections cut in the middle of a run, by a TCP proxy between flux and the
// server that then refuses connections until the runner has exited: flux exits 1 naming the
// store (no raw stack trace), the status it leaves says exactly what was applied, and the next
// runs complete every migration exactly once.
import type { ChildProcess } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { tcpProxy } from '@flux/core/testing'
import { expect, it } from 'vitest'
import {
  describeStore,
  expectNoStack,
  faultProject,
  finish,
  migrationNames,
  migrationSource,
  pauseFirstRunner,
  STORE,
  waitForStart,
} from './fault-project.ts'
import { type CutFigures, measure, recordNotApplicable } from './figures.ts'
import { FAULT_STORES } from './stores.ts'

/** How long flux may take to give up on a store that went away. */
const EXIT_DEADLINE_MS = 90_000

for (const store of FAULT_STORES) {
  describeStore(store, "the store's connections cut mid-run", () => {
    const upstream = store.upstream()
    if ('unavailable' in upstream) {
      recordNotApplicable('d', store.name, upstream.unavailable)
      it.skip(`n/a: ${upstream.unavailable}`, () => {})
      return
    }
    it('exits 1 naming the store, leaves an exact status, then completes exactly once', () =>
      measure<CutFigures>(
        'd',
        store.name,
        { exit: null, namesStore: false, exact: false, once: false },
        async (figures) => {
          const proxy = await tcpProxy(upstream)
          let runner: ChildProcess | undefined
          try {
            const [first, second, cut, ...rest] = migrationNames(5)
            const project = await faultProject(store, {
              lease: '{ ttlMs: 3000, waitMs: 30000 }',
              port: proxy.port,
              // the first runner to start the third migration says so, then waits for go.flag
              migrations: (effect, dir) => ({
                [first!]: migrationSource(effect(first!)),
                [second!]: migrationSource(effect(second!)),
                [cut!]: migrationSource(effect(cut!), {
                  before: pauseFirstRunner(dir),
                }),
                ...Object.fromEntries(rest.map((name) => [name, migrationSource(effect(name))])),
              }),
            })
            runner = project.start(['up'])
            const done = finish(runner)
            await waitForStart(project, runner, done)
            proxy.cut({ refuse: true })
            await writeFile(project.path('go.flag'), '')
            const deadline = setTimeout(() => runner?.kill('SIGKILL'), EXIT_DEADLINE_MS)
            const result = await done
            clearTimeout(deadline)
            proxy.restore()
            figures.exit = result.code
            // by its name in the config, or by the target flux was given (the proxy's address)
            figures.namesStore =
              result.stderr.includes(`store "${STORE}"`) || result.stderr.includes(`127.0.0.1:${proxy.port}`)

            // what the status says once the store is back: the applied set is what the store holds
            const rows = await project.rows()
            const counts = await project.counts()
            const wrong = project.names.filter((name) => {
              const status = rows.get(name)?.status
              const count = counts.get(name) ?? 0
              if (status === 'applied') return count !== 1
              if (status === 'pending') return count !== 0
              // a store without transactions cannot take the `running` entry back while it is away
              return !(status === 'dirty' && !store.transactional && name === cut && count <= 1)
            })
            figures.exact = wrong.length === 0
            // then the runs of an operator who settles what is dirty: every migration once
            const settling: unknown = await project.settle().then(
              () => undefined,
              (error) => error,
            )
            const after = await project.rows()
            const final = await project.counts()
            figures.once = project.names.every((name) => after.get(name)?.status === 'applied' && final.get(name) === 1)

            expect(result.signal, `flux did not exit within ${EXIT_DEADLINE_MS / 1000}s of the cut`).toBe(null)
            expect(result.code, result.stderr).toBe(1)
            expect(figures.namesStore, `the error names the store:\n${result.stderr}`).toBe(true)
            expectNoStack(result.stderr)
            expect(
              wrong.map((name) => `${name}: ${rows.get(name)?.status}, applied ${counts.get(name) ?? 0}×`),
              'status after the cut',
            ).toEqual([])
            expect(rows.get(first!)?.status).toBe('applied')
            if (settling) throw settling
            await project.expectExactlyOnce()
          } finally {
            if (runner && runner.exitCode === null && runner.signalCode === null) runner.kill('SIGKILL')
            await proxy.close()
          }
        },
      ))
  })
}
