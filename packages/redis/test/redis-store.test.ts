import { spawn } from 'node:child_process'
import { hostname } from 'node:os'
import type { LeaseHolder } from '@flux/core'
import { suspendLeaseForTesting } from '@flux/core/testing'
import { Cluster, Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { RedisClient } from '../src/index.ts'
import { redisStore } from '../src/index.ts'
import { slotOf } from '../src/redis-client.ts'
import { type OwnRedis, startOwnRedis } from './own-redis.ts'
import {
  CLUSTER,
  deleteMatching,
  describeWith,
  globOf,
  keysMatching,
  mastersOf,
  PASSWORD,
  randomName,
  TARGETS,
  type Target,
} from './redis-test-helpers.ts'

const holder = (label: string, pid = 424_242): LeaseHolder => ({
  host: `flux-redis-${label}.invalid`,
  pid,
  runId: `run-${label}`,
  since: new Date().toISOString(),
})
const entry = (id: string) => ({
  id,
  checksum: 'sha256:00',
  status: 'applied' as const,
  appliedAt: new Date().toISOString(),
  durationMs: 1,
  runId: 'r',
  fluxVersion: '0.1.0',
})

async function failure(promise: Promise<unknown>) {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught as { code: string; message: string; hint?: string },
  )
  if (!error) throw new Error('expected a rejection')
  return {
    code: error.code,
    message: error.message,
    text: `${error.message}\n${error.hint ?? ''}\n${JSON.stringify(error)}`,
  }
}

describe('options and redaction', () => {
  it('describe() shows host, port and db, never the username or password', () => {
    const store = redisStore({ url: `rediss://admin-user:${encodeURIComponent('p@ss/word')}@cache.internal:6380/2` })
    expect(store.describe()).toBe('redis cache.internal:6380/2 (tls)')
    const cluster = redisStore({
      cluster: { nodes: ['10.0.0.1:7000', { host: '10.0.0.2', port: 7001 }, `redis://:${PASSWORD}@10.0.0.3:7002`] },
    })
    expect(cluster.describe()).toBe('redis cluster 10.0.0.1:7000,10.0.0.2:7001,10.0.0.3:7002')
  })

  it('refuses bad options with CONFIG_INVALID, without echoing the url', async () => {
    for (const options of [{}, { url: 'redis://a', cluster: { nodes: ['b:1'] } }, { url: `http://u:${PASSWORD}@x` }]) {
      // none of url, client, cluster (an unset REDIS_URL): a store that refuses to open
      const error = await failure(Promise.resolve().then(() => redisStore(options).open()))
      expect(error.code).toBe('CONFIG_INVALID')
      expect(error.text).not.toContain(PASSWORD)
    }
    expect(() => redisStore({ url: 'redis://a', prefix: '{x}' })).toThrow(/invalid prefix/)
  })
})

describe('errors from servers of this test (own ports)', () => {
  let primary: OwnRedis
  let replica: OwnRedis
  beforeAll(async () => {
    primary = await startOwnRedis({ password: PASSWORD })
    replica = await startOwnRedis({
      password: PASSWORD,
      args: ['--replicaof', '127.0.0.1', String(primary.port), '--masterauth', PASSWORD],
    })
  })
  afterAll(async () => {
    await replica?.stop()
    await primary?.stop()
  })

  it('a wrong or missing password is STORE_UNAVAILABLE naming the target, without the password', async () => {
    for (const url of [
      `redis://:wrong-${PASSWORD}@127.0.0.1:${primary.port}`,
      `redis://127.0.0.1:${primary.port}`,
      `redis://someone:${PASSWORD}@127.0.0.1:${primary.port}`,
    ]) {
      const store = redisStore({ url })
      const error = await failure(store.open())
      expect(error.code).toBe('STORE_UNAVAILABLE')
      expect(error.message).toContain(`redis 127.0.0.1:${primary.port}: cannot connect: authentication failed`)
      expect(error.text).not.toContain(PASSWORD)
      await store.close()
    }
  })

  it('a cluster whose slots are not served is STORE_UNAVAILABLE within the connect deadline', async () => {
    const node = await startOwnRedis({
      args: ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${process.pid}.conf`],
    })
    try {
      const store = redisStore({ cluster: { nodes: [`127.0.0.1:${node.port}`] } })
      const error = await failure(store.open())
      expect(error.code).toBe('STORE_UNAVAILABLE')
      expect(error.message).toContain(`redis cluster 127.0.0.1:${node.port}: cannot connect`)
      expect(error.text).toContain('cluster_state:ok')
      await store.close()
    } finally {
      await node.stop()
    }
  })

  it('a read-only replica can be read, and a write there fails naming the store', async () => {
    const store = redisStore({ url: replica.url })
    await store.open()
    try {
      expect(await store.ledger.read()).toEqual([])
      const error = await failure(store.ledger.record(entry('app/one')))
      expect(error.code).toBe('STORE_ERROR')
      expect(error.message).toContain(`redis 127.0.0.1:${replica.port}: cannot record app/one in the ledger`)
      expect(error.message).toContain('read-only replica')
      expect(error.text).not.toContain(PASSWORD)
    } finally {
      await store.close()
    }
  })
})

/** Opens a store over `target` with a fresh prefix; deletes its keys after the file. */
function stores(target: Target) {
  const prefixes: string[] = []
  afterAll(async () => {
    for (const prefix of prefixes) await deleteMatching(target.admin(), globOf(`{${prefix}}`))
  })
  return async (options: { prefix?: string; client?: Redis | Cluster } = {}) => {
    const prefix = options.prefix ?? randomName('store')
    prefixes.push(prefix)
    const store = options.client ? redisStore({ client: options.client, prefix }) : redisStore(target.options(prefix))
    await store.open()
    afterAll(() => store.close())
    return store
  }
}

for (const target of TARGETS) {
  describeWith(target, 'the adapter on a shared server', () => {
    const open = stores(target)

    it("uses the user's client as it is and never closes it", async () => {
      const client =
        target.name === 'cluster'
          ? new Cluster(CLUSTER.options('x').cluster!.nodes)
          : new Redis(process.env.FLUX_TEST_REDIS_URL!)
      try {
        const listeners = client.listenerCount('error')
        const store = await open({ client })
        expect((store.client() as RedisClient).redis).toBe(client)
        await store.ledger.record(entry('app/one'))
        await store.close()
        expect(client.listenerCount('error')).toBe(listeners)
        expect(await client.ping()).toBe('PONG')
      } finally {
        await client.quit()
      }
    })

    it('one round trip per ledger read, record and remove', async () => {
      const client =
        target.name === 'cluster'
          ? new Cluster(CLUSTER.options('x').cluster!.nodes)
          : new Redis(process.env.FLUX_TEST_REDIS_URL!)
      try {
        const store = await open({ client })
        // the first use of each script on a fresh server loads it (EVALSHA, NOSCRIPT, EVAL): warm all three up
        await store.ledger.record(entry('app/warm-up'))
        await store.ledger.remove('app/warm-up')
        await store.ledger.read()
        const sent = vi.spyOn(client, 'sendCommand')
        const count = async (call: () => Promise<unknown>) => {
          sent.mockClear()
          await call()
          return sent.mock.calls.length
        }
        expect(await count(() => store.ledger.read())).toBe(1)
        expect(await count(() => store.ledger.record(entry('app/two')))).toBe(1)
        expect(await count(() => store.ledger.remove('app/two'))).toBe(1)
        sent.mockRestore()
      } finally {
        await client.quit()
      }
    })

    it('a runner whose lease was taken over can record nothing', async () => {
      const prefix = randomName('lost')
      const [first, second] = [await open({ prefix }), await open({ prefix })]
      const old = await first.acquire({ store: 'cache', ttlMs: 500, waitMs: 0, holder: holder('frozen') })
      await first.ledger.record(entry('app/before'))
      suspendLeaseForTesting(old)
      const next = await second.acquire({ store: 'cache', ttlMs: 30_000, waitMs: 5_000, holder: holder('next') })
      try {
        for (const write of [() => first.ledger.record(entry('app/late')), () => first.ledger.remove('app/before')]) {
          const error = await failure(write())
          expect(error.code).toBe('LEASE_LOST')
          expect(error.message).toContain("this runner's lease was taken over by pid 424242 on flux-redis-next.invalid")
          expect(error.message).toContain(`epoch ${next.epoch})`)
        }
        expect(next.epoch).toBe(old.epoch! + 1)
        expect((await second.ledger.read()).map((read) => read.id)).toEqual(['app/before'])
      } finally {
        await next.release()
        await old.release()
      }
    })

    it('epochs: one counter key in the slot of the others, raised by every acquisition, take-over and break', async () => {
      const prefix = randomName('epoch')
      const [first, second] = [await open({ prefix }), await open({ prefix })]
      const one = await first.acquire({ store: 'cache', ttlMs: 30_000, waitMs: 0, holder: holder('one') })
      expect(one.epoch).toBe(1)
      expect(await second.inspectLease()).toMatchObject({ host: 'flux-redis-one.invalid', epoch: 1 })
      await one.release()
      const two = await second.acquire({ store: 'cache', ttlMs: 30_000, waitMs: 0, holder: holder('two') })
      expect(two.epoch).toBe(2)
      expect(await first.breakLease()).toMatchObject({ host: 'flux-redis-two.invalid', epoch: 2 })
      expect(await target.admin().get(`{${prefix}}:epoch`)).toBe('3')
      expect(slotOf(`{${prefix}}:epoch`)).toBe(slotOf(`{${prefix}}:lease`))
      const three = await first.acquire({ store: 'cache', ttlMs: 30_000, waitMs: 0, holder: holder('three') })
      expect(three.epoch).toBe(4)
      await three.release()
      await two.release()
    })

    it('a holder whose lease expired with nobody after it still records; once another took the lease, even released, it cannot, and is told by whom', async () => {
      const prefix = randomName('expired')
      const [first, second] = [await open({ prefix }), await open({ prefix })]
      const old = await first.acquire({ store: 'cache', ttlMs: 200, waitMs: 0, holder: holder('slow') })
      suspendLeaseForTesting(old)
      const leaseKey = `{${prefix}}:lease`
      await vi.waitUntil(async () => (await target.admin().exists(leaseKey)) === 0, { timeout: 5_000, interval: 20 })
      // the lease it had is still the latest one: its write is not a stale one
      await first.ledger.record(entry('app/finished-late'))
      const next = await second.acquire({ store: 'cache', ttlMs: 30_000, waitMs: 0, holder: holder('next') })
      await next.release()
      const error = await failure(first.ledger.record(entry('app/stale')))
      expect(error.code).toBe('LEASE_LOST')
      // its taker released, and is still named
      expect(error.message).toContain("this runner's lease was taken over by pid 424242 on flux-redis-next.invalid")
      // after a break, nobody holds it: the lease is free
      const victim = await second.acquire({ store: 'cache', ttlMs: 30_000, waitMs: 0, holder: holder('victim') })
      await (await open({ prefix })).breakLease()
      await victim.release()
      const broken = await failure(first.ledger.record(entry('app/stale')))
      expect(broken.message).toContain('taken over by another runner (it is free again now)')
      // an instance that holds no lease writes unconditionally (`flux mark`), even while another holds one
      const held = await second.acquire({ store: 'cache', ttlMs: 30_000, waitMs: 0, holder: holder('again') })
      const unleased = await open({ prefix })
      await unleased.ledger.record(entry('app/marked'))
      await held.release()
      expect((await unleased.ledger.read()).map((read) => read.id)).toEqual(['app/finished-late', 'app/marked'])
      await old.release()
    })

    it('takes over at once the lease of a dead process of this host, and not of a live one', async () => {
      const prefix = randomName('dead')
      const store = await open({ prefix })
      const dead = spawn(process.execPath, ['-e', ''])
      const deadPid = dead.pid!
      await new Promise((resolve) => dead.once('exit', resolve))
      const leaseKey = `{${prefix}}:lease`
      const write = (pid: number) =>
        target
          .admin()
          .set(
            leaseKey,
            JSON.stringify({ token: 'old', holder: { ...holder('old', pid), host: hostname() }, ttlMs: 60_000 }),
            'PX',
            60_000,
          )
      await write(process.ppid)
      const timeout = await failure(store.acquire({ store: 'cache', ttlMs: 30_000, waitMs: 200, holder: holder('a') }))
      expect(timeout.code).toBe('LEASE_TIMEOUT')
      await write(deadPid)
      const lease = await store.acquire({ store: 'cache', ttlMs: 30_000, waitMs: 0, holder: holder('b') })
      expect(await store.inspectLease()).toMatchObject({ host: 'flux-redis-b.invalid' })
      await lease.release()
      expect(await target.admin().exists(leaseKey)).toBe(0)
    })

    it('scan and renameKeys: every master, each key once, never flux keys, never a key twice', async () => {
      const ns = randomName('keys')
      const store = await open({ prefix: ns })
      const client = store.client() as RedisClient
      await store.ledger.record(entry('app/own'))
      const keys = Array.from({ length: 300 }, (_, index) => `${ns}:k:${index}`)
      await Promise.all(keys.map((key, index) => target.admin().set(key, String(index))))
      await target.admin().set(`${ns}:{user1}:a`, 'tagged')
      if (target.name === 'cluster') {
        const perMaster = await Promise.all((await mastersOf(target.admin())).map((node) => node.dbsize()))
        expect(perMaster.every((size) => size > 0)).toBe(true)
      }
      const seen: string[] = []
      for await (const key of client.scan(`*${ns}*`, { count: 50 })) seen.push(key)
      expect(seen.sort()).toEqual([...keys, `${ns}:{user1}:a`].sort())

      // new names match the pattern too: each key is renamed once; undefined leaves a key alone
      const renamed = await client.renameKeys(`${ns}:*`, (key) =>
        key.endsWith(':0') ? undefined : key.replace(`${ns}:`, `${ns}:v2:`),
      )
      expect(renamed).toBe(300)
      const after = await keysMatching(target.admin(), globOf(`${ns}:`))
      expect(after).toEqual(
        [`${ns}:k:0`, ...keys.slice(1).map((key) => key.replace(`${ns}:`, `${ns}:v2:`)), `${ns}:v2:{user1}:a`].sort(),
      )
      expect(await target.admin().get(`${ns}:v2:k:299`)).toBe('299')
      expect(await target.admin().get(`${ns}:v2:{user1}:a`)).toBe('tagged')
      expect((await store.ledger.read()).map((read) => read.id)).toEqual(['app/own'])
      await deleteMatching(target.admin(), globOf(`${ns}:`))
    })
  })
}

describeWith(CLUSTER, 'key slots', (target) => {
  it('slotOf agrees with CLUSTER KEYSLOT', async () => {
    for (const key of ['session:1', '{user1}:a', 'a{}b', '{}{x}', 'x{y', '{a}{b}', 'é雪:{ü}', 'plain']) {
      expect(slotOf(key), key).toBe(Number(await target.admin().call('CLUSTER', 'KEYSLOT', key)))
    }
  })
})
