import { dirname } from 'node:path'
import {
  findConfigFile,
  installFluxResolutionFallback,
  type LoadProjectOptions,
  loadProject,
  type Project,
} from '@flux/core'

/**
 * Loads the project the way every command does: finds the config, makes its folder the
 * working directory (relative paths in the config and in messages are from there), and
 * lets config and migration files import `@flux/*` from this CLI when the project has not
 * installed them.
 */
export async function openProject(
  configFile: string | undefined,
  options: Pick<
    LoadProjectOptions,
    'configOnly' | 'prefetch' | 'allowMissingMigrations' | 'checkSums' | 'unsetStoresAllowed'
  > = {},
): Promise<Project> {
  const file = await findConfigFile(process.cwd(), configFile)
  process.chdir(dirname(file))
  installFluxResolutionFallback(import.meta.url)
  return loadProject({ ...options, configFile: file })
}
