/**
 * The admin API in Hono 4 on Node (@hono/node-server), beside a route of the host's own. Hono takes
 * the API's fetch handler as it is. Run: `npx tsx examples/hono/server.ts`.
 */
import { pathToFileURL } from 'node:url'
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import type { AdminApi } from 'matrix-background-updates'
import { createToyHomeserver } from '../toy-homeserver/toy-homeserver.js'

/** The admin API's prefix; the API answers everything under it. */
const prefix = '/_synapse/admin/v1/background_updates'

/** The host's app: the admin API's paths go to its fetch handler, the rest to the host's routes. */
export function createHonoApp(api: AdminApi): Hono {
  const app = new Hono()
  app.all(prefix, (c) => api.fetch(c.req.raw))
  app.all(`${prefix}/*`, (c) => api.fetch(c.req.raw))
  app.get('/health', (c) => c.json({ ok: true }))
  return app
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { master, state, api } = createToyHomeserver()
  master.start()
  state.start()
  serve({ fetch: createHonoApp(api).fetch, port: 8008 }, () =>
    console.log('Listening on http://localhost:8008'),
  )
}
