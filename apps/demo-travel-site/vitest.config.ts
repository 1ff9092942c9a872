import { defineConfig } from 'vitest/config'

// The story tests share real servers: each file isolates itself (schema, prefix, database,
// folder), and files run one at a time, so the 2-core CI machine is not oversubscribed.
export default defineConfig({
  test: { include: ['test/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 60_000, fileParallelism: false },
})
