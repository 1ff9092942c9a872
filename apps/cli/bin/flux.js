#!/usr/bin/env node
import module from 'node:module'

const [major, minor] = process.versions.node.split('.').map(Number)
if (major < 22 || (major === 22 && minor < 12)) {
  process.stderr.write(
    `error: flux needs Node.js 22.12 or newer; this is ${process.version}\n  hint: install a newer Node.js (nodejs.org, or \`npm install -g node@24\`)\n`,
  )
  process.exit(2)
}
// caches compiled code between runs, for a fast `flux --help`
module.enableCompileCache?.()
await import('../dist/main.js')
