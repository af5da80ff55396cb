/**
 * The admin API's contract: every answer of issue 6 in Synapse's order, auth on every route. Run
 * against each target (in-process, Express, Koa, Hono, workerd); each target serves a fresh toy
 * homeserver (examples/toy-homeserver), whose queues the suite reads back through `status`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Target, TestRequest, TestResponse } from './transports.js'

export const prefix = '/_synapse/admin/v1/background_updates'
const statusPath = `${prefix}/status`
const enabledPath = `${prefix}/enabled`
const startJobPath = `${prefix}/start_job`

export const admin = { authorization: 'Bearer admin-token' }
const user = { authorization: 'Bearer user-token' }
const stranger = { authorization: 'Bearer who-knows' }

/** The headers on every JSON answer. */
export const jsonHeaders = {
  'content-type': 'application/json',
  'cache-control': 'no-cache, no-store, must-revalidate',
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, HEAD, POST, PUT, DELETE, OPTIONS',
  'access-control-allow-headers': 'X-Requested-With, Content-Type, Authorization, Date',
  'access-control-expose-headers': 'Synapse-Trace-Id, Server',
}

/** Checks a JSON answer's status, headers and body. */
export function expectJson(response: TestResponse, status: number, body: unknown): void {
  expect({ status: response.status, body: JSON.parse(response.text) }).toEqual({ status, body })
  expect(response.headers).toMatchObject(jsonHeaders)
}

/** Checks a Matrix error answer. */
export function expectError(
  response: TestResponse,
  status: number,
  errcode: string,
  error: string,
  extra: Record<string, unknown> = {},
): void {
  expectJson(response, status, { errcode, error, ...extra })
}

const routes: readonly TestRequest[] = [
  { method: 'GET', path: statusPath },
  { method: 'GET', path: enabledPath },
  { method: 'HEAD', path: enabledPath },
  { method: 'POST', path: enabledPath, body: '{"enabled": true}' },
  { method: 'POST', path: startJobPath, body: '{"job_name": "rebuild_search_index"}' },
]

/** Runs the contract against the target `open` gives; it is opened once for the whole suite. */
export function adminApiContract(name: string, open: () => Promise<Target>): void {
  describe(`the admin API ${name}`, () => {
    let target: Target
    const send = (request: TestRequest) => target.send(request)
    const pending = async (database: string) => {
      const response = await send({ method: 'GET', path: statusPath, headers: admin })
      return JSON.parse(response.text).databases[database].pending_updates
    }

    beforeAll(async () => {
      target = await open()
    })
    afterAll(() => target?.close())

    it('answers OPTIONS on its paths with 204 and CORS headers, without a token', async () => {
      for (const path of [statusPath, `${prefix}/nowhere`, startJobPath]) {
        const response = await send({ method: 'OPTIONS', path })
        expect(response.status).toBe(204)
        expect(response.text).toBe('')
        const { 'content-type': _, 'cache-control': __, ...cors } = jsonHeaders
        expect(response.headers).toMatchObject(cors)
      }
    })

    it('refuses a Content-Length over 65536 with 413 before routing and authorization', async () => {
      const body = 'x'.repeat(65_537)
      for (const path of [startJobPath, `${prefix}/nowhere`]) {
        const response = await send({ method: 'POST', path, body })
        expectError(response, 413, 'M_TOO_LARGE', 'Request content is too large (>65536)')
      }
    })

    it('answers unknown paths under its prefix with 404 M_UNRECOGNIZED, without a token', async () => {
      for (const path of [
        `${prefix}/`,
        prefix,
        `${prefix}/nowhere`,
        `${statusPath}/`,
        `${prefix}/STATUS`,
      ]) {
        expectError(
          await send({ method: 'GET', path }),
          404,
          'M_UNRECOGNIZED',
          'Unrecognized request',
        )
      }
    })

    it('answers a method a route lacks with 405 M_UNRECOGNIZED, without a token', async () => {
      const wrong: TestRequest[] = [
        { method: 'POST', path: statusPath },
        { method: 'PUT', path: enabledPath },
        { method: 'DELETE', path: statusPath },
        { method: 'GET', path: startJobPath },
        { method: 'PATCH', path: startJobPath },
      ]
      for (const request of wrong) {
        expectError(await send(request), 405, 'M_UNRECOGNIZED', 'Unrecognized request')
      }
      const head = await send({ method: 'HEAD', path: startJobPath })
      expect({ status: head.status, text: head.text }).toEqual({ status: 405, text: '' })
    })

    it('asks for an admin token on every route, before reading the body', async () => {
      for (const route of routes) {
        const missing = await send({ ...route, body: route.body && 'not json' })
        const unknown = await send({ ...route, headers: stranger, body: route.body && '[' })
        const forbidden = await send({ ...route, headers: user, body: route.body && '[' })
        if (route.method === 'HEAD') {
          expect([missing.status, unknown.status, forbidden.status]).toEqual([401, 401, 403])
          expect(missing.text + unknown.text + forbidden.text).toBe('')
          continue
        }
        expectError(missing, 401, 'M_MISSING_TOKEN', 'Missing access token')
        expectError(unknown, 401, 'M_UNKNOWN_TOKEN', 'Invalid access token passed.', {
          soft_logout: false,
        })
        expectError(forbidden, 403, 'M_FORBIDDEN', 'You are not a server admin')
      }
    })

    it('takes the token from the Authorization header or the access_token parameter, as Synapse', async () => {
      const get = (path: string, headers?: Record<string, string | string[]>) =>
        send({ method: 'GET', path, headers })
      expectJson(await get(`${enabledPath}?access_token=admin-token`), 200, { enabled: true })
      expectError(
        await get(`${enabledPath}?access_token=admin-token`, admin),
        401,
        'M_MISSING_TOKEN',
        'Mixing Authorization headers and access_token query parameters.',
      )
      for (const authorization of [
        'Basic admin-token',
        'bearer admin-token',
        'Bearer  admin-token',
        'Bearer',
      ]) {
        expectError(
          await get(enabledPath, { authorization }),
          401,
          'M_MISSING_TOKEN',
          'Invalid Authorization header.',
        )
      }
      const twice = await get(enabledPath, {
        authorization: ['Bearer admin-token', 'Bearer admin-token'],
      })
      const words = target.separateHeaders
        ? 'Too many Authorization headers.'
        : 'Invalid Authorization header.'
      expectError(twice, 401, 'M_MISSING_TOKEN', words)
    })

    it('serves HEAD as GET without a body', async () => {
      const head = await send({ method: 'HEAD', path: statusPath, headers: admin })
      expect({ status: head.status, text: head.text }).toEqual({ status: 200, text: '' })
      expect(head.headers).toMatchObject(jsonHeaders)
    })

    it('refuses bodies that are not JSON objects, on both POST routes', async () => {
      const notJson = ['', '{', 'NaN', '\uFEFF{}', '{"enabled": true} x']
      const notObject = ['[]', '"enabled"', '1', 'null', 'true']
      for (const path of [enabledPath, startJobPath]) {
        for (const body of notJson) {
          const response = await send({ method: 'POST', path, headers: admin, body })
          expectError(response, 400, 'M_NOT_JSON', 'Content not JSON.')
        }
        const invalidUtf8 = new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])
        const bytes = await send({ method: 'POST', path, headers: admin, body: invalidUtf8 })
        expectError(bytes, 400, 'M_NOT_JSON', 'Content not JSON.')
        for (const body of notObject) {
          const response = await send({ method: 'POST', path, headers: admin, body })
          expectError(response, 400, 'M_BAD_JSON', 'Content must be a JSON object.')
        }
      }
      expect(await pending('master')).toEqual([])
    })

    it('refuses a body past the limit without Content-Length with 413, after authorization', async () => {
      const body = `{"job_name": "rebuild_search_index", "pad": "${'x'.repeat(70_000)}"}`
      const anonymous = await send({ method: 'POST', path: startJobPath, body, chunked: true })
      expectError(anonymous, 401, 'M_MISSING_TOKEN', 'Missing access token')
      const response = await send({
        method: 'POST',
        path: startJobPath,
        headers: admin,
        body,
        chunked: true,
      })
      expectError(response, 413, 'M_TOO_LARGE', 'Request content is too large (>65536)')
      expect(await pending('master')).toEqual([])
    })

    it('reports every database in status, with no current update while none runs', async () => {
      const response = await send({ method: 'GET', path: statusPath, headers: admin })
      expectJson(response, 200, {
        enabled: true,
        current_updates: {},
        databases: {
          master: { state: 'idle', last_error: null, pending_updates: [] },
          state: { state: 'idle', last_error: null, pending_updates: [] },
        },
      })
    })

    it('disables and enables every database through POST enabled', async () => {
      const post = (body: string) =>
        send({ method: 'POST', path: enabledPath, headers: admin, body })
      expectJson(await post('{"enabled": false}'), 200, { enabled: false })
      expectJson(await send({ method: 'GET', path: enabledPath, headers: admin }), 200, {
        enabled: false,
      })
      const status = JSON.parse(
        (await send({ method: 'GET', path: statusPath, headers: admin })).text,
      )
      expect(status.enabled).toBe(false)
      expect([status.databases.master.state, status.databases.state.state]).toEqual([
        'disabled',
        'disabled',
      ])

      for (const value of ['null', '"yes"', '1', '0', '{}', '[]']) {
        const response = await post(`{"enabled": ${value}}`)
        expectError(response, 400, 'M_UNKNOWN', "'enabled' parameter must be a boolean")
      }
      expectJson(await send({ method: 'GET', path: enabledPath, headers: admin }), 200, {
        enabled: false,
      })

      expectJson(await post('{}'), 200, { enabled: true })
      expectJson(await send({ method: 'GET', path: enabledPath, headers: admin }), 200, {
        enabled: true,
      })
    })

    it('refuses a start_job without a valid, startable job_name, and queues nothing', async () => {
      const post = (body: string) =>
        send({ method: 'POST', path: startJobPath, headers: admin, body })
      expectError(await post('{}'), 400, 'M_MISSING_PARAM', "Missing params: ['job_name']")
      for (const name of [
        'null',
        '1',
        '["rebuild_search_index"]',
        '"no_such_job"',
        '"compact_state"',
      ]) {
        expectError(await post(`{"job_name": ${name}}`), 400, 'M_UNKNOWN', 'Invalid job_name')
      }
      const invalid = await post('{"job_name": "rebuild_search_index", "since_ts": -1}')
      expectError(invalid, 400, 'M_INVALID_PARAM', "'since_ts' must be a non-negative integer")
      expect([await pending('master'), await pending('state')]).toEqual([[], []])
    })

    it('queues a startable job on the main database once, and answers a duplicate with 400', async () => {
      const post = (body: string) =>
        send({ method: 'POST', path: startJobPath, headers: admin, body })
      expectJson(await post('{"job_name": "rebuild_search_index", "since_ts": 5}'), 200, {})
      expect([await pending('master'), await pending('state')]).toEqual([
        ['rebuild_search_index'],
        [],
      ])

      expectError(
        await post('{"job_name": "rebuild_search_index"}'),
        400,
        'M_UNKNOWN',
        'Job rebuild_search_index is already in queue of background updates.',
      )
      expect(await pending('master')).toEqual(['rebuild_search_index'])
    })

    it('leaves the host route beside it reachable', async () => {
      const response = await send({ method: 'GET', path: '/health' })
      expect({ status: response.status, body: JSON.parse(response.text) }).toEqual({
        status: 200,
        body: { ok: true },
      })
    })
  })
}
