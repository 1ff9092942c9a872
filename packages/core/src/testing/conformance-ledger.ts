import type { LedgerEntry } from '../adapter.ts'
import type { ConformanceTest } from './conformance-harness.ts'
import { expect } from './vitest.ts'

/** A complete ledger entry; `overrides` replace its members. */
export function ledgerEntry(id: string, overrides: Partial<LedgerEntry> = {}): LedgerEntry {
  return {
    id,
    checksum: `sha256:${'0123456789abcdef'.repeat(4)}`,
    status: 'applied',
    appliedAt: '2026-01-02T03:04:05.678Z',
    durationMs: 1234,
    runId: 'r-conformance',
    fluxVersion: '0.1.0',
    ...overrides,
  }
}

const ids = (entries: LedgerEntry[]) => entries.map((entry) => entry.id)

export function ledgerTests(test: ConformanceTest): void {
  test('reading a never-migrated store gives [] and creates nothing', async ({ store, open, close }) => {
    const before = await store.contents?.()
    const adapter = await open()
    expect(await adapter.ledger.read()).toEqual([])
    expect(await adapter.ledger.read()).toEqual([])
    expect(await adapter.inspectLease()).toBeUndefined()
    await close(adapter)
    await close(await open())
    if (store.contents) expect(await store.contents()).toEqual(before)
  })

  test('record then read gives every field back unchanged, checkpoint included', async ({ open }) => {
    const adapter = await open()
    const running = ledgerEntry('@travel/images/20260101000000_init', {
      status: 'running',
      durationMs: 0,
      runId: 'r-20260102-abc',
      checkpoint: {
        cursor: 'photo-0042',
        done: 42,
        ratio: 0.5,
        nested: { list: [1, 'two', null, true] },
        text: 'é ✓ 雪',
      },
    })
    const applied = ledgerEntry('app/20260102000000_second')
    await adapter.ledger.record(running)
    await adapter.ledger.record(applied)
    const read = await adapter.ledger.read()
    expect(read).toEqual([running, applied])
    // an entry recorded without a checkpoint has none (not null) when read back
    expect(read[1]?.checkpoint ?? 'absent').toBe('absent')
  })

  test('entries come back in first-recorded order, not sorted by id or time', async ({ open }) => {
    const adapter = await open()
    await adapter.ledger.record(ledgerEntry('app/c', { appliedAt: '2026-01-03T00:00:00.000Z' }))
    await adapter.ledger.record(ledgerEntry('app/a', { appliedAt: '2026-01-01T00:00:00.000Z' }))
    await adapter.ledger.record(ledgerEntry('app/b', { appliedAt: '2026-01-02T00:00:00.000Z' }))
    expect(ids(await adapter.ledger.read())).toEqual(['app/c', 'app/a', 'app/b'])
  })

  test('recording an existing id replaces the entry in place and leaves one entry', async ({ open }) => {
    const adapter = await open()
    await adapter.ledger.record(ledgerEntry('app/one'))
    await adapter.ledger.record(ledgerEntry('app/two', { status: 'running', durationMs: 0, checkpoint: { page: 1 } }))
    await adapter.ledger.record(ledgerEntry('app/three'))
    const finished = ledgerEntry('app/two', { status: 'applied', durationMs: 999, checkpoint: { page: 7 } })
    await adapter.ledger.record(finished)
    await adapter.ledger.record(finished)
    const read = await adapter.ledger.read()
    expect(ids(read)).toEqual(['app/one', 'app/two', 'app/three'])
    expect(read[1]).toEqual(finished)
  })

  test('replacing an entry can drop its checkpoint', async ({ open }) => {
    const adapter = await open()
    await adapter.ledger.record(ledgerEntry('app/long', { status: 'running', checkpoint: { page: 3 } }))
    await adapter.ledger.record(ledgerEntry('app/long'))
    const [entry] = await adapter.ledger.read()
    expect(entry?.checkpoint ?? 'absent').toBe('absent')
  })

  test('remove deletes one entry; removing an absent id is not an error', async ({ open }) => {
    const adapter = await open()
    await adapter.ledger.remove('app/never-recorded')
    for (const id of ['app/a', 'app/b', 'app/c']) await adapter.ledger.record(ledgerEntry(id))
    await adapter.ledger.remove('app/b')
    await adapter.ledger.remove('app/b')
    await adapter.ledger.remove('app/never-recorded')
    expect(ids(await adapter.ledger.read())).toEqual(['app/a', 'app/c'])
    // recorded again after removal, it is a new entry: last in the order
    await adapter.ledger.record(ledgerEntry('app/b'))
    expect(ids(await adapter.ledger.read())).toEqual(['app/a', 'app/c', 'app/b'])
  })

  test('another adapter instance (another process) sees every write at once', async ({ open, close }) => {
    const writer = await open()
    const reader = await open()
    expect(await reader.ledger.read()).toEqual([])
    const entry = ledgerEntry('app/shared', { checkpoint: { at: 1 } })
    await writer.ledger.record(entry)
    expect(await reader.ledger.read()).toEqual([entry])
    await reader.ledger.remove('app/shared')
    expect(await writer.ledger.read()).toEqual([])
    await close(writer)
    const reopened = await open()
    await reopened.ledger.record(ledgerEntry('app/after-reopen'))
    expect(ids(await reader.ledger.read())).toEqual(['app/after-reopen'])
  })

  test('20 entries recorded one by one read back complete and in order', async ({ open }) => {
    const adapter = await open()
    // names that sort differently from the recording order
    const recorded = Array.from({ length: 20 }, (_, index) =>
      ledgerEntry(`app/${String((index * 7) % 20).padStart(2, '0')}_step`, { durationMs: index }),
    )
    for (const entry of recorded) await adapter.ledger.record(entry)
    expect(await adapter.ledger.read()).toEqual(recorded)
    const other = await open()
    expect(await other.ledger.read()).toEqual(recorded)
  })

  test('write(), where the adapter has it, makes several changes in order, as record and remove would', async ({
    open,
  }) => {
    const adapter = await open()
    if (!adapter.ledger.write) return
    const first = ledgerEntry('app/001_first', { status: 'running', durationMs: 0 })
    await adapter.ledger.write([{ record: first }])
    const applied = { ...first, status: 'applied' as const, durationMs: 12 }
    const second = ledgerEntry('app/002_second', { status: 'running', durationMs: 0 })
    await adapter.ledger.write([{ record: applied }, { record: second }])
    expect(await adapter.ledger.read()).toEqual([applied, second])
    // a down chain: one step removed, the one before it running; an absent id removed is no error
    await adapter.ledger.write([
      { remove: 'app/002_second' },
      { remove: 'app/never' },
      { record: { ...applied, status: 'running' } },
    ])
    expect(await adapter.ledger.read()).toEqual([{ ...applied, status: 'running' }])
    // the same entry changed twice in one write: the last change wins
    await adapter.ledger.write([{ record: second }, { record: { ...second, status: 'applied' } }, { remove: first.id }])
    const other = await open()
    expect(await other.ledger.read()).toEqual([{ ...second, status: 'applied' }])
  })
}
