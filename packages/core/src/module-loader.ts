import module from 'node:module'
import { pathToFileURL } from 'node:url'
import { isPlainJavaScript } from './plain-javascript.ts'

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
        try {
          return nextResolve(specifier, { ...context, parentURL: fallbackParent })
        } catch {
          // not beside the CLI either: the project's own error names the file that imports it
          throw error
        }
      }
    },
  })
}

/**
 * Makes a project's own TypeScript files (config, migrations, the local modules they import)
 * load as ES modules whatever the `"type"` of their package.json. Node reads a `.ts` file in a
 * `"type": "commonjs"` package — npm's default, `npm init -y` — as CommonJS, where the
 * `import` of every config and migration is a syntax error; in a package without `"type"`
 * Node parses each file twice and prints a warning. Files under `node_modules` keep
 * their package's own format. Needs `module.registerHooks` (Node ≥ 22.15); on older Nodes
 * {@link importModule} falls back to jiti for those files.
 */
function installTypeScriptAsModules(): boolean {
  const registerHooks = (module as { registerHooks?: typeof import('node:module').registerHooks }).registerHooks
  if (typeof registerHooks !== 'function') return false
  if (!moduleHooksInstalled) {
    moduleHooksInstalled = true
    // A package imported by name resolves the same from every file of one folder: a thousand
    // migrations that import '@flux/core' walk node_modules once, not a thousand times.
    const resolvedInFolder = new Map<string, ResolveResult>()
    registerHooks({
      resolve(specifier, context, nextResolve) {
        const parent = context.parentURL
        const key =
          parent?.startsWith('file:') && BARE_SPECIFIER.test(specifier)
            ? [
                specifier,
                parent.slice(0, parent.lastIndexOf('/')),
                context.conditions.join(','),
                JSON.stringify(context.importAttributes),
              ].join('\0')
            : undefined
        const known = key === undefined ? undefined : resolvedInFolder.get(key)
        if (known) return { ...known, shortCircuit: true }
        const resolved = asProjectFormat(nextResolve(specifier, context))
        if (key !== undefined) resolvedInFolder.set(key, resolved)
        return resolved
      },
      load(url, context, nextLoad) {
        const loaded = nextLoad(url, context)
        return loaded.format === 'module-typescript' && !url.includes('/node_modules/') && withoutTypes(loaded.source)
          ? { ...loaded, format: 'module' }
          : loaded
      },
    })
  }
  return true
}

type LoadResult = ReturnType<Parameters<typeof import('node:module').registerHooks>[0]['load'] & {}>

const utf8 = new TextDecoder()

/** A project's TypeScript file that holds no TypeScript syntax runs as the JavaScript it is (see {@link isPlainJavaScript}). */
function withoutTypes(source: LoadResult['source']): boolean {
  if (source === undefined) return false
  return isPlainJavaScript(typeof source === 'string' ? source : utf8.decode(source as Uint8Array))
}

type ResolveResult = ReturnType<Parameters<typeof import('node:module').registerHooks>[0]['resolve'] & {}>

/** A package name: not a path, a URL, a builtin (`node:`) or a `#` import. */
const BARE_SPECIFIER = /^(?![./#]|[a-z][a-z0-9+.-]*:)/i

/**
 * A project's own `.ts` file as an ES module. `.ts` only (`.mts` is a module already, `.cts`
 * is CommonJS on purpose); `null` is a package without "type", where Node would parse twice
 * and warn. Files under `node_modules` keep their package's format.
 */
function asProjectFormat(resolved: ResolveResult): ResolveResult {
  const projectTypeScript = /\.ts$/.test(resolved.url) && !resolved.url.includes('/node_modules/')
  return projectTypeScript && (resolved.format === 'commonjs-typescript' || resolved.format == null)
    ? { ...resolved, format: 'module-typescript' }
    : resolved
}

let moduleHooksInstalled = false

/**
 * Imports with Node's own type stripping where it is available, and with jiti (a loader
 * that compiles TypeScript on the fly) where it is not: Node < 22.18, TypeScript inside
 * `node_modules`, which Node refuses to strip, or TypeScript in a CommonJS package on a Node
 * without module hooks.
 */
export const importModule: ModuleImporter = async (file) => {
  const url = pathToFileURL(file).href
  const typescript = TS_FILE.test(file)
  if (!typescript || (hasNativeTypeStripping() && installTypeScriptAsModules())) {
    try {
      return (await import(url)) as Record<string, unknown>
    } catch (error) {
      if (!typescript || !NATIVE_TS_FAILURES.has((error as NodeJS.ErrnoException).code ?? '')) throw error
    }
  }
  const { createJiti } = await import('jiti')
  const jiti = createJiti(url, { interopDefault: false, moduleCache: true, fsCache: false })
  return (await jiti.import(file)) as Record<string, unknown>
}

function hasNativeTypeStripping(): boolean {
  return Boolean((process.features as { typescript?: unknown }).typescript)
}
