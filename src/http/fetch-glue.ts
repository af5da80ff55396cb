import type { AdminApiSettings } from './admin-api.js'
import { answerRequest } from './admin-api.js'
import type { AdminAnswer } from './answers.js'
import type { BodySource } from './request-body.js'
import { ownsPath } from './routes.js'

/** What to answer a request outside the admin API's paths with, when the host has routes of its own. */
export type FetchNext = () => Response | Promise<Response>

/**
 * Answers a Web `Request`. A request outside the admin API's paths goes to `next` when given;
 * otherwise it gets Synapse's answer there (204 to OPTIONS, 404 `M_UNRECOGNIZED` to the rest).
 */
export async function answerFetch(
  settings: AdminApiSettings,
  request: Request,
  next?: FetchNext,
): Promise<Response> {
  const url = new URL(request.url)
  if (next && !ownsPath(url.pathname)) return next()

  const authorization = request.headers.get('authorization')
  const answer = await answerRequest(settings, {
    method: request.method,
    path: url.pathname,
    query: url.search.slice(1),
    headers: request.headers,
    authorization: authorization === null ? [] : [authorization],
    body: streamBody(request.body),
  })
  return toResponse(answer)
}

function streamBody(stream: ReadableStream<Uint8Array> | null): BodySource {
  return {
    kind: 'stream',
    read: (limit) => (stream ? readStream(stream, limit) : Promise.resolve(new Uint8Array(0))),
  }
}

/** Reads a stream up to `limit` bytes; past it, cancels the stream. */
async function readStream(
  stream: ReadableStream<Uint8Array>,
  limit: number,
): Promise<Uint8Array | 'too_large'> {
  const reader = stream.getReader()
  const parts: Uint8Array[] = []
  let length = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break

    length += value.byteLength
    if (length > limit) {
      await reader.cancel().catch(() => {})
      return 'too_large'
    }
    parts.push(value)
  }

  return concatenate(parts, length)
}

/** Joins byte chunks into one array of `length` bytes. */
export function concatenate(parts: readonly Uint8Array[], length: number): Uint8Array {
  const body = new Uint8Array(length)
  let offset = 0
  for (const part of parts) {
    body.set(part, offset)
    offset += part.byteLength
  }
  return body
}

function toResponse(answer: AdminAnswer): Response {
  return new Response(answer.body, { status: answer.status, headers: answer.headers })
}
