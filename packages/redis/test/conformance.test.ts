import { describeAdapterConformance } from '@flux/core/testing'
import { conformanceOptions, describeWith, TARGETS } from './redis-test-helpers.ts'

// against the standalone server and the three-master cluster: a fresh prefix per test
for (const target of TARGETS) {
  describeWith(target, 'conformance', () =>
    describeAdapterConformance(`redis ${target.name}`, conformanceOptions(target)),
  )
}
