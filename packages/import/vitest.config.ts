import { defineConfig } from 'vitest/config'

// each server test applies a real history with the real tool, then runs the built `flux`: tens of seconds
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
})
