/**
 * The admin API in Express 5, before the body parser, beside a route of the host's own.
 * Run: `npx tsx examples/express/server.ts`, then
 * `curl -H 'Authorization: Bearer admin-token' localhost:8008/_synapse/admin/v1/background_updates/status`.
 */
import { pathToFileURL } from 'node:url'
import express, { type Express } from 'express'
import type { AdminApi } from 'matrix-background-updates'
import { createToyHomeserver } from '../toy-homeserver/toy-homeserver.js'

/** The host's app: the admin API first, then its body parser and its own routes. */
export function createExpressApp(api: AdminApi): Express {
  const app = express()
  app.use(api.node)
  app.use(express.json())
  app.get('/health', (_req, res) => {
    res.json({ ok: true })
  })
  return app
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { master, state, api } = createToyHomeserver()
  master.start()
  state.start()
  createExpressApp(api).listen(8008, () => console.log('Listening on http://localhost:8008'))
}
