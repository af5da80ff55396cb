/**
 * `authorize` comes first: on each of the four routes and each of its methods, a request without a
 * token, with an unknown one or from a user who is not an admin is answered before anything else
 * runs. Spies on the runner, on its storage and on the request body show nothing else was touched.
 */
import {
  BackgroundUpdateRunner,
  createAdminApi,
  ForbiddenError,
  MemoryStorageAdapter,
  UnknownTokenError,
} from 'matrix-background-updates'
import { describe, expect, it } from 'vitest'
import { prefix } from './contract.js'

/** Wraps `target` so each method call, from now on, is recorded as `label.method`. */
function spied<T extends object>(target: T, label: string, calls: string[]): T {
  return new Proxy(target, {
    get(object, property) {
      const value = Reflect.get(object, property, object)
      if (typeof value !== 'function') return value
      return (...args: unknown[]) => {
        calls.push(`${label}.${String(property)}`)
        return value.apply(object, args)
      }
    },
  })
}

/** A runner whose storage records its calls, and an admin API over the runner seen through a spy. */
function setup() {
  const calls: string[] = []
  const storage = spied(new MemoryStorageAdapter(), 'storage', calls)
  const runner = new BackgroundUpdateRunner({ storage })
  runner.registerJob({
    name: 'noop',
    startable: true,
    updates: [{ name: 'noop', handler: async () => ({ items: 0, done: true }) }],
  })
  const api = createAdminApi({
    runners: spied(runner, 'runner', calls),
    async authorize({ accessToken }) {
      calls.push('authorize')
      if (accessToken === 'admin') return
      if (accessToken === 'user') throw new ForbiddenError()
      throw new UnknownTokenError()
    },
  })
  calls.length = 0
  return { api, calls }
}

/** A streamed body that records whether anyone read it (no eager pull: high water mark 0). */
function watchedBody(text: string) {
  const seen = { pulled: false }
  const body = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        seen.pulled = true
        controller.enqueue(new TextEncoder().encode(text))
        controller.close()
      },
    },
    { highWaterMark: 0 },
  )
  return { body, seen }
}

const routes = [
  { method: 'GET', path: 'status' },
  { method: 'HEAD', path: 'status' },
  { method: 'GET', path: 'enabled' },
  { method: 'HEAD', path: 'enabled' },
  { method: 'POST', path: 'enabled', body: '{"enabled": false}' },
  { method: 'POST', path: 'start_job', body: '{"job_name": "noop"}' },
] as const

const refusals = [
  { who: 'no token', authorization: undefined, status: 401, errcode: 'M_MISSING_TOKEN' },
  {
    who: 'an unknown token',
    authorization: 'Bearer stranger',
    status: 401,
    errcode: 'M_UNKNOWN_TOKEN',
  },
  {
    who: 'a user who is not an admin',
    authorization: 'Bearer user',
    status: 403,
    errcode: 'M_FORBIDDEN',
  },
] as const

function send(
  api: ReturnType<typeof setup>['api'],
  route: (typeof routes)[number],
  authorization?: string,
) {
  const watched = 'body' in route ? watchedBody(route.body) : undefined
  const headers = new Headers()
  if (authorization !== undefined) headers.set('authorization', authorization)
  const request = new Request(`http://hs.example${prefix}/${route.path}`, {
    method: route.method,
    headers,
    body: watched?.body,
    duplex: 'half',
  } as RequestInit)
  return { answer: api.fetch(request), seen: watched?.seen }
}

describe('the admin API authorizes before anything else', () => {
  for (const route of routes) {
    for (const refusal of refusals) {
      it(`answers ${route.method} ${route.path} from ${refusal.who} with ${refusal.status}, touching nothing`, async () => {
        const { api, calls } = setup()

        const { answer, seen } = send(api, route, refusal.authorization)
        const response = await answer

        expect(response.status).toBe(refusal.status)
        if (route.method !== 'HEAD') {
          expect((await response.json()).errcode).toBe(refusal.errcode)
        }
        const expectedCalls = refusal.authorization === undefined ? [] : ['authorize']
        expect(calls).toEqual(expectedCalls)
        expect(seen?.pulled ?? false).toBe(false)
      })
    }

    it(`calls authorize before the runner and before reading the body on ${route.method} ${route.path}`, async () => {
      const { api, calls } = setup()

      const { answer, seen } = send(api, route, 'Bearer admin')
      const response = await answer

      expect(response.status).toBe(200)
      expect(calls[0]).toBe('authorize')
      expect(calls.length).toBeGreaterThan(1)
      expect(seen?.pulled ?? true).toBe(true)
    })
  }
})
