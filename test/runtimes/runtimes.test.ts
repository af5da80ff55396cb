/**
 * The primitives' vectors (vectors.mjs) on every runtime the root entry promises: the published
 * entry, imported by package name, on Node, Bun and Deno (which resolve the `node` export condition and
 * so get the node:crypto backend), and the `default` build, imported by path, on Node, Bun, Deno and
 * workerd without `nodejs_compat` (which get WebCrypto with noble). The runtimes come from the npm
 * packages `bun`, `deno` and `miniflare`; one that cannot run here is skipped with a notice, and fails
 * the suite under CI=true.
 */
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Installation, installPackage, PACKAGE, ROOT, run } from '../package/install.js'

const VECTORS = join(ROOT, 'test', 'runtimes', 'vectors.mjs')
const DEFAULT_BUILD = join(ROOT, 'dist', 'index.js')

interface Outcome {
  backend: string
  checks: number
  failures: unknown[]
}

type Runtime = 'node' | 'bun' | 'deno'

const commands: Record<Runtime, (entry: string) => [string, string[]]> = {
  node: (entry) => [process.execPath, [entry]],
  bun: (entry) => [join(ROOT, 'node_modules', '.bin', 'bun'), [entry]],
  deno: (entry) => [
    join(ROOT, 'node_modules', '.bin', 'deno'),
    ['run', '--no-lock', '--allow-read', entry],
  ],
}

/** Why a runtime cannot run here, or undefined when it can. */
async function missing(runtime: Runtime): Promise<string | undefined> {
  const [command] = commands[runtime]('')
  if (!existsSync(command)) return `${command} is not installed (npm ci installs it)`
  try {
    await run(command, ['--version'])
    return undefined
  } catch (error) {
    return `${command} --version failed: ${(error as Error).message}`
  }
}

/** Runs `test` when `reason` is undefined; otherwise skips it with a notice, or fails under CI. */
function whenAvailable(
  reason: () => string | undefined,
  test: () => Promise<void>,
): () => Promise<void> {
  return async (context?: { skip(note?: string): void }) => {
    const why = reason()
    if (why === undefined) return test()
    if (process.env.CI === 'true') throw new Error(`this runtime cannot run here: ${why}`)
    console.warn(`SKIPPED runtime test: ${why}`)
    context?.skip(why)
  }
}

function expectAllPassed(outcome: Outcome, backend: string): void {
  expect(outcome.failures).toEqual([])
  expect(outcome.checks).toBeGreaterThanOrEqual(20)
  expect(outcome.backend).toBe(backend)
}

describe('the primitives vectors on every runtime', () => {
  let installation: Installation
  const unavailable = new Map<Runtime, string | undefined>()
  const entries = { package: '', default: '' }
  let miniflareMissing: string | undefined

  beforeAll(async () => {
    installation = await installPackage('tarball')
    const vectors = pathToFileURL(VECTORS).href
    const script = (specifier: string) =>
      `import * as lib from '${specifier}'\n` +
      `import { runVectors } from '${vectors}'\n` +
      'console.log(JSON.stringify(await runVectors(lib)))\n'

    entries.package = join(installation.folder, 'package-entry.mjs')
    entries.default = join(installation.folder, 'default-entry.mjs')
    await writeFile(entries.package, script(PACKAGE))
    await writeFile(entries.default, script(pathToFileURL(DEFAULT_BUILD).href))

    for (const runtime of ['node', 'bun', 'deno'] as const) {
      unavailable.set(runtime, await missing(runtime))
    }
    miniflareMissing = await import('miniflare').then(
      () => undefined,
      (error: Error) => `miniflare cannot be loaded: ${error.message}`,
    )
  })

  afterAll(() => installation?.remove())

  async function vectorsOn(runtime: Runtime, entry: string): Promise<Outcome> {
    const [command, args] = commands[runtime](entry)
    const { stdout } = await run(command, args, {
      cwd: installation.folder,
      env: { ...process.env, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' },
    })
    return JSON.parse(stdout.trim().split('\n').at(-1) ?? '')
  }

  for (const runtime of ['node', 'bun', 'deno'] as const) {
    it(
      `passes on ${runtime} through the published entry, with node:crypto`,
      whenAvailable(
        () => unavailable.get(runtime),
        async () => expectAllPassed(await vectorsOn(runtime, entries.package), 'node:crypto'),
      ),
    )

    it(
      `passes on ${runtime} through the default build imported by path, with WebCrypto`,
      whenAvailable(
        () => unavailable.get(runtime),
        async () => expectAllPassed(await vectorsOn(runtime, entries.default), 'webcrypto'),
      ),
    )
  }

  it(
    'passes on workerd without nodejs_compat through the default build, with WebCrypto',
    whenAvailable(
      () => miniflareMissing,
      async () => {
        const { Miniflare } = await import('miniflare')
        const worker =
          "import * as lib from './index.js'\n" +
          "import { runVectors } from './vectors.mjs'\n" +
          'export default { async fetch() { return Response.json(await runVectors(lib)) } }\n'
        const miniflare = new Miniflare({
          modulesRoot: '/worker',
          modules: [
            { type: 'ESModule', path: '/worker/worker.mjs', contents: worker },
            {
              type: 'ESModule',
              path: '/worker/index.js',
              contents: await readFile(DEFAULT_BUILD, 'utf8'),
            },
            {
              type: 'ESModule',
              path: '/worker/vectors.mjs',
              contents: await readFile(VECTORS, 'utf8'),
            },
          ],
          compatibilityDate: '2026-04-01',
          compatibilityFlags: [],
        })
        try {
          const response = await miniflare.dispatchFetch('http://localhost/')
          expect(response.status).toBe(200)
          expectAllPassed((await response.json()) as Outcome, 'webcrypto')
        } finally {
          await miniflare.dispose()
        }
      },
    ),
  )
})
