// MongoDB (FerretDB in the tests): each application of a migration is a document of `fault_effects`.
import type { MongoStoreClient } from '@flux/mongo'
import { mongoStore } from '@flux/mongo'
import {
  type Effect,
  env,
  type FaultStore,
  hostOf,
  LEDGER_FENCED,
  literal,
  opened,
  through,
  unique,
} from './store-kit.ts'

export const mongo: FaultStore = {
  name: 'mongo',
  imports: "import { mongoStore } from '@flux/mongo'",
  variable: 'FLUX_TEST_MONGO_URL',
  transactional: false,
  contract: LEDGER_FENCED,
  upstream: () => hostOf(env.FLUX_TEST_MONGO_URL),
  async create(_dir, port) {
    const url = env.FLUX_TEST_MONGO_URL!
    const database = unique('faults')
    const { client, close } = await opened<MongoStoreClient>(mongoStore({ url, database }))
    const collection = client.db.collection<Effect>('fault_effects')
    return {
      config: `mongoStore({ url: ${literal(through(url, port))}, database: ${literal(database)} })`,
      effect: (name) =>
        `await store.db.collection('fault_effects').insertOne({ name: ${literal(name)}, pid: process.pid }, store.session ? { session: store.session } : {})`,
      async effects() {
        return (await collection.find({}, { projection: { _id: 0 } }).toArray()).map(({ name, pid }) => ({ name, pid }))
      },
      async cleanup() {
        await client.db.dropDatabase()
        await close()
      },
    }
  },
}
