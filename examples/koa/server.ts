/**
 * The admin API in Koa 3, before any body parser, beside a route of the host's own.
 * Run: `npx tsx examples/koa/server.ts`.
 */
import { pathToFileURL } from 'node:url'
import Koa from 'koa'
import type { AdminApi } from 'matrix-background-updates'
import { createToyHomeserver } from '../toy-homeserver/toy-homeserver.js'

/** The host's app: the admin API's middleware, then the host's own. */
export function createKoaApp(api: AdminApi): Koa {
  const app = new Koa()
  app.use(api.koa())
  app.use(async (ctx, next) => {
    if (ctx.method !== 'GET' || ctx.path !== '/health') return next()
    ctx.body = { ok: true }
  })
  return app
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { master, state, api } = createToyHomeserver()
  master.start()
  state.start()
  createKoaApp(api).listen(8008, () => console.log('Listening on http://localhost:8008'))
}
