import { describeAdapterConformance } from '@flux/core/testing'
import { pgStore } from '../src/index.ts'
import { describeWithServer, PASSWORD, serverStore, UNREACHABLE_URL } from './pg-test-helpers.ts'

// lock: 'table', for PgBouncer in transaction pooling mode, against the server
describeWithServer('PostgreSQL server, lock table', (url) => {
  describeAdapterConformance('pg with a lock table', {
    setup: async () => serverStore(url, (schema) => () => pgStore({ url, schema, lock: 'table' })),
    secrets: [PASSWORD],
    unreachable: () => pgStore({ url: UNREACHABLE_URL, lock: 'table' }),
  })
})
