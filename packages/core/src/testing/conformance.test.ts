// Runs the conformance suite against a small in-memory adapter with every capability, so
// that the groups no adapter of this repository exercises (transactions, secrets) run too.
import { randomUUID } from 'node:crypto'
import { buffer } from 'node:stream/consumers'
import type { Adapter, BlobBody, BlobStore, LeaseHolder, Ledger, LedgerEntry } from '../adapter.ts'
import { FluxError } from '../errors.ts'
import { createLease, leaseTakenOver, pollForLease } from '../lease.ts'
import { describeAdapterConformance } from './index.ts'

const SECRET = 's3cr3t-password'

interface MemoryState {
  ledger: LedgerEntry[] | undefined
  lease: { token: string; holder: LeaseHolder; ttlMs: number; renewedAt: number } | undefined
  /** The token of the latest acquisition or break: the one fencing token that is current. */
  fence: string | undefined
  epoch: number
  blobs: Map<string, Buffer>
}

/** The fencing token an adapter instance writes under: set by its acquire(), cleared by its own release(). */
interface Fenced {
  held: string | undefined
}

/** Refuses a write of an instance whose lease is no longer the store's current one. */
function checkFence(state: MemoryState, instance: Fenced, what: string): void {
  if (instance.held === undefined || instance.held === state.fence) return
  throw leaseTakenOver('memory user@localhost', what, state.lease?.holder)
}

function memoryLedger(
  state: { ledger: LedgerEntry[] | undefined },
  fencing?: { state: MemoryState; instance: Fenced },
): Ledger {
  const check = (what: string) => fencing && checkFence(fencing.state, fencing.instance, what)
  return {
    read: async () => structuredClone(state.ledger ?? []),
    async record(entry) {
      check(`record ${entry.id} in the ledger`)
      const entries = state.ledger ?? []
      const index = entries.findIndex((existing) => existing.id === entry.id)
      state.ledger = index === -1 ? [...entries, structuredClone(entry)] : entries.with(index, structuredClone(entry))
    },
    async remove(id) {
      check(`remove ${id} from the ledger`)
      if (state.ledger?.some((entry) => entry.id === id)) state.ledger = state.ledger.filter((entry) => entry.id !== id)
    },
  }
}

function memoryBlobs(state: MemoryState): BlobStore {
  const check = (key: string) => {
    const segments = key.split('/')
    if (key === '' || key.startsWith('/') || segments.some((segment) => ['', '.', '..'].includes(segment))) {
      throw new FluxError('KEY_INVALID', `invalid blob key "${key}"`)
    }
    return key
  }
  const notFound = (key: string) => new FluxError('BLOB_NOT_FOUND', `blob "${key}" not found`)
  const bytes = async (body: BlobBody) =>
    typeof body === 'string' ? Buffer.from(body) : body instanceof Uint8Array ? Buffer.from(body) : buffer(body)
  return {
    async put(key, body) {
      check(key)
      state.blobs.set(key, await bytes(body))
    },
    async get(key) {
      const body = state.blobs.get(check(key))
      if (!body) throw notFound(key)
      return Buffer.from(body)
    },
    list: async (prefix = '') => [...state.blobs.keys()].filter((key) => key.startsWith(prefix)).sort(),
    async delete(key) {
      state.blobs.delete(check(key))
    },
    async move(from, to) {
      check(to)
      const body = state.blobs.get(check(from))
      if (!body) throw notFound(from)
      state.blobs.delete(from)
      state.blobs.set(to, body)
    },
    exists: async (key) => state.blobs.has(check(key)),
  }
}

function memoryAdapter(state: MemoryState): Adapter<BlobStore> {
  const instance: Fenced = { held: undefined }
  const expired = () => state.lease !== undefined && state.lease.renewedAt + state.lease.ttlMs < Date.now()
  return {
    specVersion: 'v1',
    kind: 'memory',
    capabilities: { transactions: true, blobs: true },
    open: async () => {},
    close: async () => {},
    describe: () => 'memory user@localhost',
    client: () => memoryBlobs(state),
    ledger: memoryLedger(state, { state, instance }),
    acquire(options) {
      return pollForLease({
        ...options,
        attempt: async () => {
          if (state.lease && !expired()) return { holder: state.lease.holder }
          const token = randomUUID()
          state.epoch += 1
          const holder = { ...options.holder, epoch: state.epoch }
          state.lease = { token, holder, ttlMs: options.ttlMs, renewedAt: Date.now() }
          state.fence = token
          instance.held = token
          const ours = () => state.lease?.token === token
          const lease = createLease({
            store: options.store,
            ttlMs: options.ttlMs,
            epoch: state.epoch,
            async renew() {
              if (ours() && state.lease) state.lease.renewedAt = Date.now()
              return ours()
            },
            async release() {
              if (ours()) state.lease = undefined
              if (instance.held === token && state.fence === token) instance.held = undefined
            },
          })
          return { lease }
        },
      })
    },
    inspectLease: async () => state.lease?.holder,
    async breakLease() {
      const holder = state.lease?.holder
      state.lease = undefined
      if (holder) state.fence = randomUUID()
      return holder
    },
    async transaction(fn) {
      const draft = { ledger: structuredClone(state.ledger) }
      const result = await fn(memoryBlobs(state), memoryLedger(draft, { state, instance }))
      // the commit checks the fence again: the holder may have been taken over while fn ran
      checkFence(state, instance, 'commit the transaction')
      state.ledger = draft.ledger
      return result
    },
    async transactionBatch(fns, options) {
      for (const [index, fn] of fns.entries()) {
        try {
          await this.transaction!(fn)
        } catch (error) {
          return { committed: index, failed: { index, error } }
        }
        options?.onCommit?.(index + 1)
      }
      return { committed: fns.length }
    },
  }
}

describeAdapterConformance('memory', {
  async setup() {
    const state: MemoryState = { ledger: undefined, lease: undefined, fence: undefined, epoch: 0, blobs: new Map() }
    return {
      create: () => memoryAdapter(state),
      cleanup: async () => {},
      contents: async () => [
        ...(state.ledger ? ['ledger'] : []),
        ...(state.lease ? ['lease'] : []),
        ...[...state.blobs.keys()].map((key) => `blob:${key}`),
      ],
    }
  },
  secrets: [SECRET],
  unreachable: () => ({
    ...memoryAdapter({ ledger: undefined, lease: undefined, fence: undefined, epoch: 0, blobs: new Map() }),
    describe: () => 'memory user@unreachable',
    async open() {
      const cause = new Error(`connect ECONNREFUSED for user:${SECRET}@unreachable`)
      throw new FluxError('STORE_UNAVAILABLE', 'cannot reach memory user@unreachable', {
        cause: cause.message.replace(SECRET, '***'),
      })
    },
  }),
})
