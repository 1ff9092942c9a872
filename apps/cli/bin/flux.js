#!/usr/bin/env node
import module from 'node:module'

// caches compiled code between runs, for a fast `flux --help`
module.enableCompileCache?.()
await import('../dist/main.js')
