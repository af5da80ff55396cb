/**
 * The contract inside workerd, through Miniflare and without nodejs_compat: examples/worker bundled
 * with its toy homeserver, importing the built default entry (dist/index.js) as the package.
 */
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import type { Miniflare } from 'miniflare'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { admin, adminApiContract, expectJson, prefix } from './contract.js'
import { fromResponse, type Target, toRequest } from './transports.js'

const root = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url))

/** The example as workerd runs it: one module, with the package left to `./index.js`. */
async function bundleWorker(): Promise<string> {
  const result = await build({
    entryPoints: [root('examples/worker/worker.ts')],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    write: false,
    plugins: [
      {
        name: 'built-package',
        setup(context) {
          context.onResolve({ filter: /^matrix-background-updates$/ }, () => ({
            path: './index.js',
            external: true,
          }))
        },
      },
    ],
  })
  return result.outputFiles[0]?.text ?? ''
}

async function startWorker(): Promise<Miniflare> {
  const { Miniflare } = await import('miniflare')
  return new Miniflare({
    modulesRoot: '/worker',
    modules: [
      { type: 'ESModule', path: '/worker/worker.js', contents: await bundleWorker() },
      {
        type: 'ESModule',
        path: '/worker/index.js',
        contents: await readFile(root('dist/index.js'), 'utf8'),
      },
    ],
    compatibilityDate: '2026-04-01',
    compatibilityFlags: [],
  })
}

/**
 * Whether undici failed while still writing a request body because workerd had answered and
 * closed the connection: it answers a request it refuses before reading the body (as Synapse
 * does), and then the end of a streamed body can race the close. The answer is lost to undici,
 * not wrong, so such a request is sent again.
 */
function resetWhileSending(error: unknown): boolean {
  const code = (error as { cause?: { code?: unknown } })?.cause?.code
  return error instanceof TypeError && (code === 'ECONNRESET' || code === 'EPIPE')
}

/** Miniflare's fetch is undici's; the suite's requests are rebuilt for it. */
function inWorkerd(miniflare: Miniflare): Target {
  const sendOnce = async (request: Parameters<Target['send']>[0]) => {
    const built = toRequest(request)
    const response = await miniflare.dispatchFetch(built.url, {
      method: built.method,
      headers: built.headers,
      body: built.body,
      duplex: 'half',
    } as never)
    return fromResponse(response as unknown as Response)
  }
  return {
    send: async (request) => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await sendOnce(request)
        } catch (error) {
          if (attempt === 3 || request.body === undefined || !resetWhileSending(error)) throw error
        }
      }
    },
    separateHeaders: false,
    close: () => miniflare.dispose(),
  }
}

adminApiContract('in workerd through Miniflare', async () => inWorkerd(await startWorker()))

describe('the Worker example', () => {
  let miniflare: Miniflare
  beforeAll(async () => {
    miniflare = await startWorker()
  })
  afterAll(() => miniflare?.dispose())

  it('runs the queued updates from its cron trigger with runFor', async () => {
    const target = inWorkerd(miniflare)
    const body = '{"job_name": "rebuild_search_index"}'
    expectJson(
      await target.send({ method: 'POST', path: `${prefix}/start_job`, headers: admin, body }),
      200,
      {},
    )

    const worker = (await miniflare.getWorker()) as unknown as {
      scheduled(options: { cron: string }): Promise<unknown>
    }
    await worker.scheduled({ cron: '* * * * *' })

    const status = await target.send({ method: 'GET', path: `${prefix}/status`, headers: admin })
    expect(JSON.parse(status.text).databases.master.pending_updates).toEqual([])
  })
})
