import type { AdminApiSettings } from './admin-api.js'
import { answerRequest } from './admin-api.js'
import { type AdminAnswer, internalError } from './answers.js'
import { concatenate } from './fetch-glue.js'
import type { BodySource } from './request-body.js'
import { ownsPath } from './routes.js'

/**
 * The parts of node:http's IncomingMessage (and Express's request) the glue uses, typed
 * structurally so that no Node or framework type is imported.
 */
export interface NodeRequestLike {
  readonly method?: string

  /** Express: the URL before any mount path was stripped; preferred over `url`. */
  readonly originalUrl?: string
  readonly url?: string
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>

  /** Name, value, name, value…: used to see every `Authorization` header. */
  readonly rawHeaders?: readonly string[]

  /** A body a host's body parser has already read, if any. */
  readonly body?: unknown

  /** True once the stream has been read to its end (by someone else, if there is no `body`). */
  readonly readableEnded?: boolean
  on(event: 'data', listener: (chunk: Uint8Array | string) => void): unknown
  on(event: 'end' | 'close', listener: () => void): unknown
  on(event: 'error', listener: (error: unknown) => void): unknown
  removeListener?(event: string, listener: (...args: never[]) => void): unknown
}

/** The parts of node:http's ServerResponse the glue uses. */
export interface NodeResponseLike {
  statusCode: number
  readonly headersSent?: boolean
  setHeader(name: string, value: string): unknown
  end(body?: string): unknown
}

/** Called for requests outside the admin API's paths (Express's and Connect's `next`). */
export type NodeNext = (error?: unknown) => unknown

/** How a glue calls {@link answerNode}. */
export interface NodeGlueOptions {
  /** Called for paths outside the admin API; without it they get Synapse's answers. */
  readonly next?: NodeNext

  /** A body a host's parser read already (Koa's `ctx.request.body`). */
  readonly parsedBody?: unknown

  /** The URL from the application root, when the request's own fields may have been rewritten. */
  readonly url?: string
}

/**
 * Answers a node:http request. One outside the admin API's paths goes to `next` when given;
 * otherwise it gets Synapse's answer (204 to OPTIONS, 404 `M_UNRECOGNIZED` to the rest).
 */
export async function answerNode(
  settings: AdminApiSettings,
  req: NodeRequestLike,
  res: NodeResponseLike,
  options: NodeGlueOptions = {},
): Promise<void> {
  const { next } = options
  const target = options.url ?? req.originalUrl ?? req.url ?? '/'
  const queryAt = target.indexOf('?')
  const path = queryAt === -1 ? target : target.slice(0, queryAt)
  if (next && !ownsPath(path)) {
    next()
    return
  }

  try {
    const answer = await answerRequest(settings, {
      method: req.method ?? 'GET',
      path,
      query: queryAt === -1 ? '' : target.slice(queryAt + 1),
      headers: toHeaders(req.headers),
      authorization: authorizationValues(req),
      body: nodeBody(req, options.parsedBody ?? req.body),
    })
    writeAnswer(res, answer)
  } catch (error) {
    settings.logger.error({ err: error, path }, 'The background updates admin API could not answer')
    if (!res.headersSent) writeAnswer(res, internalError().toAnswer())
  }
}

/** A Web `Headers` copy of node's headers; a value `Headers` refuses is left out. */
function toHeaders(headers: NodeRequestLike['headers']): Headers {
  const copy = new Headers()
  for (const [name, value] of Object.entries(headers)) {
    for (const each of typeof value === 'string' ? [value] : (value ?? [])) {
      try {
        copy.append(name, each)
      } catch {
        // A name or value a Web Headers cannot hold; the admin API never needs it.
      }
    }
  }
  return copy
}

/** Every Authorization header: node keeps only the first in `headers`, so read `rawHeaders`. */
function authorizationValues(req: NodeRequestLike): string[] {
  const raw = req.rawHeaders
  if (!raw) {
    const value = req.headers.authorization
    return value === undefined ? [] : typeof value === 'string' ? [value] : [...value]
  }

  const values: string[] = []
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if ((raw[i] as string).toLowerCase() === 'authorization') values.push(raw[i + 1] as string)
  }
  return values
}

function nodeBody(req: NodeRequestLike, parsed: unknown): BodySource {
  if (parsed !== undefined) return { kind: 'parsed', value: parsed }

  return { kind: 'stream', read: (limit) => readNodeStream(req, limit) }
}

/**
 * Reads the request stream up to `limit` bytes. Past the limit it stops keeping chunks and answers
 * at once, but lets the stream flow, so the answer can still be written on the connection.
 */
function readNodeStream(req: NodeRequestLike, limit: number): Promise<Uint8Array | 'too_large'> {
  if (req.readableEnded) return Promise.resolve(new Uint8Array(0))

  return new Promise((resolve, reject) => {
    const parts: Uint8Array[] = []
    let length = 0
    let settled = false
    const settle = (outcome: Uint8Array | 'too_large') => {
      if (settled) return
      settled = true
      resolve(outcome)
    }

    req.on('data', (chunk) => {
      const bytes = typeof chunk === 'string' ? new TextEncoder().encode(chunk) : chunk
      length += bytes.byteLength
      if (length > limit) settle('too_large')
      else if (!settled) parts.push(bytes)
    })
    req.on('end', () => settle(concatenate(parts, length)))
    const fail = (error: unknown) => {
      if (!settled) reject(error)
      settled = true
    }
    req.on('close', () => fail(new Error('The connection closed before the body was read')))
    req.on('error', fail)
  })
}

function writeAnswer(res: NodeResponseLike, answer: AdminAnswer): void {
  res.statusCode = answer.status
  for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value)
  if (answer.body === null) res.end()
  else res.end(answer.body)
}
