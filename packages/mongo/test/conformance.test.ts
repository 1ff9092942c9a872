import { describeAdapterConformance } from '@flux/core/testing'
import { describe } from 'vitest'
import { conformanceOptions, describeWithServer, REPLSET_URL } from './mongo-test-helpers.ts'

// the CI server (FerretDB): no transactions, so that group is skipped; a fresh database per test
describeWithServer('MongoDB server', (url) => describeAdapterConformance('mongo', conformanceOptions(url)))

describe.skipIf(!REPLSET_URL)('needs a replica set (FLUX_TEST_MONGO_REPLSET_URL); FerretDB has no transactions', () => {
  describeAdapterConformance('mongo replica set', conformanceOptions(REPLSET_URL!, { transactions: true }))
})
