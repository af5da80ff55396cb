/**
 * The admin API in a Cloudflare Worker. Requests are answered by `api.fetch`; a cron trigger drives
 * the runners with `runFor`, kept alive by `ctx.waitUntil`, since a Worker has no long-lived
 * process. The toy keeps its queues in the isolate's memory; a real Worker uses durable storage.
 */
import { createToyHomeserver, type ToyHomeserver } from '../toy-homeserver/toy-homeserver.js'

/** The parts of the Workers ExecutionContext this Worker uses. */
interface ExecutionContext {
  waitUntil(promise: Promise<unknown>): void
}

/** Built on the first event: Workers allow no random values or timers in global scope. */
let toy: ToyHomeserver | undefined
const homeserver = () => {
  toy ??= createToyHomeserver()
  return toy
}

/** The host's own routes, beside the admin API. */
function hostRoutes(request: Request): Response {
  const { pathname } = new URL(request.url)
  if (request.method === 'GET' && pathname === '/health') return Response.json({ ok: true })

  return new Response('Not found', { status: 404 })
}

export default {
  fetch(request: Request): Promise<Response> {
    return homeserver().api.fetch(request, () => hostRoutes(request))
  },

  scheduled(_controller: unknown, _env: unknown, ctx: ExecutionContext): void {
    const { master, state } = homeserver()
    ctx.waitUntil(Promise.all([master.runFor(25_000), state.runFor(25_000)]))
  },
}
