import module from 'node:module'
import { pathToFileURL } from 'node:url'

/** Imports a config or migration file and returns its module namespace. An I/O seam: tests inject their own. */
export type ModuleImporter = (file: string) => Promise<Record<string, unknown>>

const TS_FILE = /\.(c|m)?ts$/
const NATIVE_TS_FAILURES = new Set([
  'ERR_UNKNOWN_FILE_EXTENSION',
  'ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING',
  'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX',
  'ERR_NO_TYPESCRIPT',
])

let fallbackInstalled = false

/**
 * Lets config and migration files `import '@flux/…'` when the project has not installed
 * those packages itself (a global `flux`, or `npx flux` in an empty folder): a specifier
 * under `@flux/` that does not resolve from the importing file is resolved from
 * `fallbackParent` (the CLI's own location) instead. Needs `module.registerHooks`
 * (Node ≥ 22.15); older Nodes resolve from the project only.
 */
export function installFluxResolutionFallback(fallbackParent: string): void {
  // looked up at run time: a named import of it fails to link on Node < 22.15
  const registerHooks = (module as { registerHooks?: typeof import('node:module').registerHooks }).registerHooks
  if (fallbackInstalled || typeof registerHooks !== 'function') return
  fallbackInstalled = true
  registerHooks({
    resolve(specifier, context, nextResolve) {
      try {
        return nextResolve(specifier, context)
      } catch (error) {
        if (!specifier.startsWith('@flux/') || (error as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') {
          throw error
        }
        return nextResolve(specifier, { ...context, parentURL: fallbackParent })
      }
    },
  })
}

/**
 * Imports with Node's own type stripping where it is available, and with jiti (a loader
 * that compiles TypeScript on the fly) where it is not: Node < 22.18, or TypeScript inside
 * `node_modules`, which Node refuses to strip.
 */
export const importModule: ModuleImporter = async (file) => {
  const url = pathToFileURL(file).href
  if (!TS_FILE.test(file) || hasNativeTypeStripping()) {
    try {
      return (await import(url)) as Record<string, unknown>
    } catch (error) {
      if (!NATIVE_TS_FAILURES.has((error as NodeJS.ErrnoException).code ?? '')) throw error
    }
  }
  const { createJiti } = await import('jiti')
  const jiti = createJiti(url, { interopDefault: false, moduleCache: true, fsCache: false })
  return (await jiti.import(file)) as Record<string, unknown>
}

function hasNativeTypeStripping(): boolean {
  return Boolean((process.features as { typescript?: unknown }).typescript)
}
