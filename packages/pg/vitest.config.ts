import { defineConfig } from 'vitest/config'

// PGlite starts in each test's hooks: a few seconds on a busy 2-core machine
export default defineConfig({
  test: { include: ['src/**/*.test.ts', 'test/**/*.test.ts'], testTimeout: 30_000, hookTimeout: 30_000 },
})
