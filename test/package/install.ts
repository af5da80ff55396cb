/**
 * Installs the built package into a throw-away project, as a user would get it: from the tarball
 * `npm pack` makes (so `files` and `exports` are what is tested), or through a symlink under
 * node_modules, as workspaces and `npm link` install it.
 */
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

export const run = promisify(execFile)

/** The repository root, where the built package lives in dist/. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url))

export const PACKAGE = 'matrix-background-updates'

export interface Installation {
  /** A project folder whose node_modules holds the package. */
  folder: string
  remove(): Promise<void>
}

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'

/** A project folder with the package installed from its packed tarball, or symlinked. */
export async function installPackage(how: 'tarball' | 'symlink'): Promise<Installation> {
  const base = await mkdtemp(join(tmpdir(), `mbu-${how}-`))
  const folder = join(base, 'app')
  await mkdir(folder)
  const remove = () => rm(base, { recursive: true, force: true })

  try {
    let dependency: string
    if (how === 'tarball') {
      const { stdout } = await run(npm, ['pack', '--json', '--pack-destination', base], {
        cwd: ROOT,
      })
      const [packed] = JSON.parse(stdout) as Array<{ filename: string }>
      dependency = `file:${join(base, packed?.filename ?? '')}`
    } else {
      await mkdir(join(folder, 'node_modules'))
      await symlink(ROOT, join(folder, 'node_modules', PACKAGE), 'dir')
      dependency = `file:${ROOT}`
    }

    const manifest = { name: 'app', private: true, dependencies: { [PACKAGE]: dependency } }
    await writeFile(join(folder, 'package.json'), JSON.stringify(manifest, null, 2))
    if (how === 'tarball') {
      await run(npm, ['install', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: folder })
    }
    return { folder, remove }
  } catch (error) {
    await remove()
    throw error
  }
}
