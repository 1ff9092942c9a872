import { stat } from 'node:fs/promises'
import { isAbsolute, relative, sep } from 'node:path'
import { FluxError } from './errors.ts'
import type { Component } from './load-migrations.ts'

/**
 * Checks that every component's migrations folder exists: a missing one is a wrong path in
 * the config (`configFile`) or a package installed without its migrations, not "nothing to
 * apply". With `allowMissingApplicationFolder` (for `flux new`, which creates it), the
 * application's folder may be missing. Paths in messages are relative to `cwd` when inside it.
 */
export async function requireFolders(
  components: readonly Component[],
  cwd: string,
  configFile: string,
  allowMissingApplicationFolder: boolean,
): Promise<void> {
  const problems = await Promise.all(components.map((component) => folderProblem(component.dir)))
  // the first in component order, so that the same project always gets the same error
  for (const [index, component] of components.entries()) {
    const problem = problems[index]
    if (problem === undefined || (index === 0 && allowMissingApplicationFolder && problem === 'does not exist'))
      continue
    const path = displayPath(cwd, component.dir)
    if (component.package === undefined) {
      const mkdir = /^[\w./@+-]+$/.test(path) ? path : `'${path}'`
      throw new FluxError('CONFIG_INVALID', `${configFile}: migrations folder ${path}${sep} ${problem}`, {
        file: configFile,
        hint: `create it (\`mkdir -p ${mkdir}\`; \`flux new <name>\` also creates it), or fix \`migrations\` in ${configFile}`,
        details: { key: 'migrations', path },
      })
    }
    throw new FluxError(
      'CONFIG_INVALID',
      `component ${component.package.name}: the migrations folder its package.json declares, ${path}${sep}, ${problem}`,
      {
        file: path,
        hint: `reinstall ${component.package.name}, or report to its authors that its migrations are not in the package; or disable it in ${configFile}`,
        details: { key: `components.${component.name}`, path },
      },
    )
  }
}

async function folderProblem(dir: string): Promise<string | undefined> {
  try {
    return (await stat(dir)).isDirectory() ? undefined : 'is not a folder'
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'does not exist'
    throw error
  }
}

/** A path relative to `cwd` when it is inside it, absolute otherwise. */
function displayPath(cwd: string, path: string): string {
  const relativePath = relative(cwd, path)
  if (relativePath === '') return '.'
  if (isAbsolute(relativePath) || relativePath === '..' || relativePath.startsWith(`..${sep}`)) return path
  return relativePath
}
