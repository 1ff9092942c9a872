import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describeAdapterConformance } from '@flux/core/testing'
import { fsStore } from '../src/index.ts'
import { contentsOf } from './fs-test-helpers.ts'

describeAdapterConformance('fs', {
  async setup() {
    const root = await mkdtemp(join(tmpdir(), 'flux-fs-'))
    return {
      create: () => fsStore({ root }),
      cleanup: () => rm(root, { recursive: true, force: true }),
      contents: () => contentsOf(root),
    }
  },
  // this test file: a root that is not a directory
  unreachable: () => fsStore({ root: fileURLToPath(import.meta.url) }),
})
