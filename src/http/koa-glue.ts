import type { AdminApiSettings } from './admin-api.js'
import { answerNode, type NodeRequestLike, type NodeResponseLike } from './node-glue.js'
import { ownsPath } from './routes.js'

/** The parts of a Koa context the middleware uses, typed structurally (no Koa import). */
export interface KoaContextLike {
  readonly req: NodeRequestLike
  readonly res: NodeResponseLike
  readonly originalUrl?: string
  readonly url: string

  /** Set by a body parser mounted before the admin API, if any. */
  readonly request?: { readonly body?: unknown }

  /** Set to false when the admin API has written the answer itself. */
  respond?: boolean
}

/** Koa middleware: answers the admin API's paths and passes every other request to `next()`. */
export type KoaMiddleware = (context: KoaContextLike, next: () => Promise<unknown>) => Promise<void>

/** Builds the Koa middleware over {@link answerNode}, bypassing Koa's own response handling. */
export function koaMiddleware(settings: AdminApiSettings): KoaMiddleware {
  return async (context, next) => {
    const target = context.originalUrl ?? context.url
    const queryAt = target.indexOf('?')
    if (!ownsPath(queryAt === -1 ? target : target.slice(0, queryAt))) {
      await next()
      return
    }

    context.respond = false
    await answerNode(settings, context.req, context.res, {
      url: target,
      parsedBody: context.request?.body,
    })
  }
}
