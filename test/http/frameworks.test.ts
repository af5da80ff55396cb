/**
 * The contract over HTTP against real Express 5, Koa 3 and Hono 4 (@hono/node-server) servers,
 * each built by its example, and every method of `http.METHODS` against every route.
 */
import { createServer, METHODS, type Server } from 'node:http'
import { createAdaptorServer } from '@hono/node-server'
import type { AdminApi } from 'matrix-background-updates'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createExpressApp } from '../../examples/express/server.js'
import { createHonoApp } from '../../examples/hono/server.js'
import { createKoaApp } from '../../examples/koa/server.js'
import { createToyHomeserver } from '../../examples/toy-homeserver/toy-homeserver.js'
import { admin, adminApiContract, jsonHeaders, prefix } from './contract.js'
import { overHttp, type Target } from './transports.js'

const frameworks: Record<string, { server(api: AdminApi): Server; separateHeaders: boolean }> = {
  'Express 5': { server: (api) => createServer(createExpressApp(api)), separateHeaders: true },
  'Koa 3': { server: (api) => createServer(createKoaApp(api).callback()), separateHeaders: true },
  'Hono 4': {
    server: (api) => createAdaptorServer({ fetch: createHonoApp(api).fetch }) as Server,
    separateHeaders: false,
  },
}

/** CONNECT opens a tunnel: node:http never hands it to a request listener, so no framework sees it. */
const methods = METHODS.filter((method) => method !== 'CONNECT')

const paths = [`${prefix}/status`, `${prefix}/enabled`, `${prefix}/start_job`, `${prefix}/nowhere`]

for (const [name, framework] of Object.entries(frameworks)) {
  const open = () =>
    overHttp(framework.server(createToyHomeserver().api), framework.separateHeaders)
  adminApiContract(`in ${name} over HTTP`, open)

  describe(`the admin API in ${name}, under every method of http.METHODS`, () => {
    let target: Target
    beforeAll(async () => {
      target = await open()
    })
    afterAll(() => target?.close())

    it('never answers 5xx nor anything but a Matrix error or a JSON object', async () => {
      for (const method of methods) {
        for (const path of paths) {
          const body = method === 'GET' || method === 'HEAD' ? undefined : '{"enabled": true}'
          const response = await target.send({ method, path, headers: admin, body })
          const seen = { method, path, status: response.status }

          expect(seen.status, JSON.stringify(seen)).toBeLessThan(500)
          if (method === 'OPTIONS' || method === 'HEAD') {
            expect(response.text, JSON.stringify(seen)).toBe('')
            continue
          }
          expect(response.headers, JSON.stringify(seen)).toMatchObject(jsonHeaders)
          const parsed = JSON.parse(response.text)
          if (response.status !== 200)
            expect(Object.keys(parsed).sort()).toEqual(['errcode', 'error'])
        }
      }
    })
  })
}
