/**
 * The background updates admin API: Synapse's four endpoints under
 * `/_synapse/admin/v1/background_updates/`, framework-neutral, with glue for Web `fetch` handlers,
 * node:http (Express) and Koa.
 *
 * @module
 */
import { type AdminApiOptions, type AdminApiSettings, resolveAdminApiOptions } from './admin-api.js'
import { answerFetch, type FetchNext } from './fetch-glue.js'
import { type KoaMiddleware, koaMiddleware } from './koa-glue.js'
import {
  answerNode,
  type NodeNext,
  type NodeRequestLike,
  type NodeResponseLike,
} from './node-glue.js'

export type { AdminApiOptions, AuthorizationRequest, Authorize } from './admin-api.js'
export { ForbiddenError, MissingTokenError, UnknownTokenError } from './errors.js'
export type { FetchNext } from './fetch-glue.js'
export type { KoaContextLike, KoaMiddleware } from './koa-glue.js'
export type { NodeNext, NodeRequestLike, NodeResponseLike } from './node-glue.js'

/** The admin API, mountable in any framework. */
export interface AdminApi {
  /**
   * Answers a Web `Request` (Hono, Bun, Deno, Workers). A request outside the API's paths goes to
   * `next` when given; otherwise it is answered as Synapse would (404 `M_UNRECOGNIZED`).
   */
  fetch(request: Request, next?: FetchNext): Promise<Response>

  /**
   * node:http and Express: matches `req.originalUrl ?? req.url`; another path goes to `next()`, or
   * without `next` is answered 404 `M_UNRECOGNIZED`. Never rejects.
   */
  node(req: NodeRequestLike, res: NodeResponseLike, next?: NodeNext): Promise<void>

  /** Koa middleware: answers the API's paths and passes every other request on. */
  koa(): KoaMiddleware
}

/**
 * Creates the background updates admin API over one runner per database.
 *
 * @example
 * ```ts
 * const api = createAdminApi({ runners: [main, state], authorize: requireServerAdmin })
 * app.use(api.node) // Express, before any body parser
 * ```
 * @throws {TypeError} An option has the wrong type, `authorize` is missing, or two runners share
 *   a database name.
 * @throws {RangeError} `maxBodyBytes` is not a non-negative integer, or no runner serves
 *   `mainDatabase`.
 */
export function createAdminApi(options: AdminApiOptions): AdminApi {
  const settings: AdminApiSettings = resolveAdminApiOptions(options)
  return {
    fetch: (request, next) => answerFetch(settings, request, next),
    node: (req, res, next) => answerNode(settings, req, res, { next }),
    koa: () => koaMiddleware(settings),
  }
}
