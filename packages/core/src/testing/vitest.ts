import { FluxError } from '../errors.ts'

/**
 * The vitest functions the testing helpers use. They are imported here, at run time, so that
 * importing `@flux/core/testing` where vitest is not installed fails with what to install: a
 * static `import … from 'vitest'` fails while Node links the modules, before any code runs,
 * with Node's bare "Cannot find package 'vitest'".
 */
async function loadVitest(): Promise<typeof import('vitest')> {
  try {
    return await import('vitest')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code !== 'ERR_MODULE_NOT_FOUND' || !String((error as Error).message).includes("'vitest'")) throw error
    throw new FluxError(
      'USAGE',
      '@flux/core/testing needs vitest, which is not installed in this project: install it with `npm install -D vitest` (pnpm: `pnpm add -D vitest`) and run your tests with `npx vitest`',
      { hint: 'npm install -D vitest', cause: error },
    )
  }
}

export const { describe, expect, it } = await loadVitest()
