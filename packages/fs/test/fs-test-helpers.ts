import { readdir } from 'node:fs/promises'

/** Every file and directory under `root`, as sorted relative paths; [] when it does not exist. */
export async function contentsOf(root: string): Promise<string[]> {
  try {
    return (await readdir(root, { recursive: true })).sort()
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw error
  }
}
