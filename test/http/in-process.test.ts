import {
  BackgroundUpdateRunner,
  createAdminApi,
  type Logger,
  MemoryStorageAdapter,
} from 'matrix-background-updates'
import { describe, expect, it } from 'vitest'
import {
  createToyHomeserver,
  requireServerAdmin,
} from '../../examples/toy-homeserver/toy-homeserver.js'
import { admin, adminApiContract, expectError, expectJson, prefix } from './contract.js'
import { fromResponse, inProcess, type TestRequest, toRequest } from './transports.js'

adminApiContract('in process, through api.fetch', async () => inProcess(createToyHomeserver().api))

/** A logger that keeps what it is given. */
function recordingLogger() {
  const lines: { details: Record<string, unknown>; message: string }[] = []
  const record = (details: Record<string, unknown>, message: string) =>
    lines.push({ details, message })
  const logger: Logger = { debug: record, info: record, warn: record, error: record }
  return { logger, lines }
}

async function call(api: ReturnType<typeof createAdminApi>, request: TestRequest) {
  return fromResponse(await api.fetch(toRequest(request)))
}

describe('the admin API in process', () => {
  it('answers a path outside its prefix as Synapse would when no next is given', async () => {
    const { api } = createToyHomeserver()
    expectError(
      await call(api, { method: 'GET', path: '/elsewhere' }),
      404,
      'M_UNRECOGNIZED',
      'Unrecognized request',
    )
    expect((await call(api, { method: 'OPTIONS', path: '/elsewhere' })).status).toBe(204)
  })

  it('hides an unexpected error behind 500 M_UNKNOWN and logs it', async () => {
    const { logger, lines } = recordingLogger()
    const runner = new BackgroundUpdateRunner({ storage: new MemoryStorageAdapter() })
    const api = createAdminApi({
      runners: runner,
      logger,
      authorize: async () => {
        throw new Error('database password is hunter2')
      },
    })

    const response = await call(api, { method: 'GET', path: `${prefix}/status`, headers: admin })

    expectError(response, 500, 'M_UNKNOWN', 'Internal server error')
    expect(response.text).not.toContain('hunter2')
    expect(lines).toHaveLength(1)
    const [line] = lines
    expect(line?.details).toMatchObject({ method: 'GET', path: `${prefix}/status` })
    expect(String(line?.details.err)).toContain('hunter2')
  })

  it('reports enabled as the conjunction of every database', async () => {
    const { api, state } = createToyHomeserver()
    await state.setEnabled(false)

    const enabled = await call(api, { method: 'GET', path: `${prefix}/enabled`, headers: admin })
    const status = JSON.parse(
      (await call(api, { method: 'GET', path: `${prefix}/status`, headers: admin })).text,
    )

    expectJson(enabled, 200, { enabled: false })
    expect(status.enabled).toBe(false)
    expect([status.databases.master.state, status.databases.state.state]).toEqual([
      'idle',
      'disabled',
    ])
  })

  it('queues start_job on the runner named by mainDatabase', async () => {
    const { master, state } = createToyHomeserver()
    const api = createAdminApi({
      runners: [state, master],
      authorize: requireServerAdmin,
      mainDatabase: 'master',
    })
    const body = '{"job_name": "rebuild_search_index"}'

    expectJson(
      await call(api, { method: 'POST', path: `${prefix}/start_job`, headers: admin, body }),
      200,
      {},
    )

    expect((await master.status()).pending_updates).toEqual(['rebuild_search_index'])
    expect((await state.status()).pending_updates).toEqual([])
  })

  it('passes the job its parameters without job_name', async () => {
    const runner = new BackgroundUpdateRunner({ storage: new MemoryStorageAdapter() })
    const seen: unknown[] = []
    runner.registerJob({
      name: 'noted',
      startable: true,
      validate: (params) => seen.push(params),
      updates: [{ name: 'noted', handler: async () => ({ items: 0, done: true }) }],
    })
    const api = createAdminApi({ runners: runner, authorize: requireServerAdmin })
    const body = '{"job_name": "noted", "old_key_id": "ed25519:a", "__proto__": {"x": 1}}'

    await call(api, { method: 'POST', path: `${prefix}/start_job`, headers: admin, body })

    expect(seen).toEqual([JSON.parse('{"old_key_id": "ed25519:a", "__proto__": {"x": 1}}')])
  })

  it('gives authorize the token, method, path without query, and headers', async () => {
    const seen: unknown[] = []
    const runner = new BackgroundUpdateRunner({ storage: new MemoryStorageAdapter() })
    const api = createAdminApi({
      runners: runner,
      authorize: async ({ accessToken, method, path, headers }) => {
        seen.push({ accessToken, method, path, agent: headers.get('user-agent') })
      },
    })

    await call(api, {
      method: 'GET',
      path: `${prefix}/enabled?access_token=t%20k`,
      headers: { 'user-agent': 'curl' },
    })

    expect(seen).toEqual([
      { accessToken: 't k', method: 'GET', path: `${prefix}/enabled`, agent: 'curl' },
    ])
  })

  it('restarts an aborted, started runner when updates are enabled', async () => {
    const runner = new BackgroundUpdateRunner({
      storage: new MemoryStorageAdapter(),
      sleepEnabled: false,
    })
    let calls = 0
    runner.registerJob({
      name: 'flaky',
      updates: [
        {
          name: 'flaky',
          handler: async () => {
            calls++
            if (calls <= 5) throw new Error('not yet')
            return { items: 1, done: true }
          },
        },
      ],
    })
    await runner.startJob('flaky')
    runner.start()
    await runner.whenCompleted('never-queued').catch(() => {})
    while ((await runner.status()).state !== 'aborted')
      await new Promise((resolve) => setTimeout(resolve, 1))
    const api = createAdminApi({ runners: runner, authorize: requireServerAdmin })

    await call(api, {
      method: 'POST',
      path: `${prefix}/enabled`,
      headers: admin,
      body: '{"enabled": true}',
    })
    await runner.whenCompleted('flaky')
    await runner.stop()

    expect(calls).toBe(6)
  })

  it('refuses options that would leave it open or ambiguous', () => {
    const runner = new BackgroundUpdateRunner({ storage: new MemoryStorageAdapter() })
    const twin = new BackgroundUpdateRunner({ storage: new MemoryStorageAdapter() })
    const authorize = requireServerAdmin
    expect(() => createAdminApi({ runners: runner } as never)).toThrow(TypeError)
    expect(() => createAdminApi({ runners: [], authorize })).toThrow(TypeError)
    expect(() => createAdminApi({ runners: [runner, twin], authorize })).toThrow(/master/)
    expect(() => createAdminApi({ runners: runner, authorize, mainDatabase: 'main' })).toThrow(
      RangeError,
    )
    expect(() => createAdminApi({ runners: runner, authorize, maxBodyBytes: -1 })).toThrow(
      RangeError,
    )
  })

  it('honours a smaller maxBodyBytes in its 413 answer', async () => {
    const runner = new BackgroundUpdateRunner({ storage: new MemoryStorageAdapter() })
    const api = createAdminApi({ runners: runner, authorize: requireServerAdmin, maxBodyBytes: 10 })
    const response = await call(api, {
      method: 'POST',
      path: `${prefix}/enabled`,
      headers: admin,
      body: '{"enabled":true}',
    })
    expectError(response, 413, 'M_TOO_LARGE', 'Request content is too large (>10)')
  })
})
