import { defineConfig } from 'vitest/config'

// `pnpm test:install`: the install test (install/*.install.ts), kept out of `pnpm test`. Its global
// setup starts a local registry (scripts/registry) and publishes the built workspace to it with
// changesets; the tests then install from it in fresh folders, as a user would. Every command
// it runs has a deadline (install/run.ts), and so has each test.
export default defineConfig({
  test: {
    include: ['install/**/*.install.ts'],
    globalSetup: ['install/registry-setup.ts'],
    testTimeout: 240_000,
    hookTimeout: 60_000,
  },
})
