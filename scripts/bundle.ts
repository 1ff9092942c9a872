// Bundles a package's entry points into dist/ (run from the package's folder, after
// `tsc --emitDeclarationOnly`): `node ../../scripts/bundle.ts src/index.ts src/testing/index.ts`.
// Node loads one module per entry instead of one per source file, which is most of what
// `flux` spends before it connects. Dependencies stay imports; shared code goes in chunks
// beside the entries, so paths relative to `import.meta.url` (`../package.json`) still hold.
import { readFileSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { relative } from 'node:path'
import { build } from 'rolldown'

const entries = process.argv.slice(2)
if (entries.length === 0) {
  console.error('usage: node scripts/bundle.ts <src/entry.ts>… (from the package folder)')
  process.exit(2)
}
const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as Record<string, Record<string, string> | undefined>
const dependencies = Object.keys({
  ...manifest.dependencies,
  ...manifest.peerDependencies,
  ...manifest.optionalDependencies,
})
const builtins = new Set([...builtinModules, ...builtinModules.map((name) => `node:${name}`)])
const external = (id: string) =>
  builtins.has(id) || id.startsWith('node:') || dependencies.some((name) => id === name || id.startsWith(`${name}/`))

await build({
  input: Object.fromEntries(entries.map((entry) => [relative('src', entry).replace(/\.ts$/, ''), entry])),
  platform: 'node',
  external,
  output: {
    dir: 'dist',
    format: 'esm',
    entryFileNames: '[name].js',
    chunkFileNames: '[name]-[hash].js',
    sourcemap: true,
  },
  logLevel: 'warn',
})
