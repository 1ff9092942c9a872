import { defineConfig } from 'vitest/config'

// `pnpm test:faults`: the fault suite (faults/*.fault.ts), kept out of `pnpm test`. It runs the
// built CLI against every store's real server, so the packages are built first (turbo).
export default defineConfig({
  test: {
    include: ['faults/**/*.fault.ts'],
    globalSetup: ['faults/figures-setup.ts'],
    testTimeout: 240_000,
    hookTimeout: 60_000,
  },
})
