import { describeAdapterConformance } from '@flux/core/testing'
import {
  contentsOf,
  deleteAll,
  describeWithServer,
  randomPrefix,
  SECRET_ACCESS_KEY,
  testStore,
} from './s3-test-helpers.ts'

describeWithServer('S3 server', () => {
  describeAdapterConformance('s3', {
    async setup() {
      const prefix = randomPrefix('conformance')
      return { create: () => testStore(prefix), cleanup: () => deleteAll(prefix), contents: () => contentsOf(prefix) }
    },
    secrets: [SECRET_ACCESS_KEY],
    // the same credentials, against a closed port
    unreachable: () => testStore(randomPrefix(), { endpoint: 'http://127.0.0.1:1' }),
  })
})
