export { describeAdapterConformance } from './conformance.ts'
export type { ConformanceOptions, ConformanceStore } from './conformance-options.ts'
export { suspendLeaseForTesting } from './suspend.ts'
