/**
 * How the contract suite talks to an admin API: in-process through `api.fetch`, or over HTTP to a
 * real server on 127.0.0.1, or through Miniflare into workerd.
 */
import { request as httpRequest, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { AdminApi } from 'matrix-background-updates'

/** A request of the suite. `chunked` sends the body without a Content-Length. */
export interface TestRequest {
  readonly method: string
  readonly path: string
  readonly headers?: Readonly<Record<string, string | readonly string[]>>
  readonly body?: string | Uint8Array
  readonly chunked?: boolean
}

/** An answer as the suite sees it: header names in lower case. */
export interface TestResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly text: string
}

/** Something the suite can send requests to. */
export interface Target {
  send(request: TestRequest): Promise<TestResponse>

  /** Whether several Authorization headers reach the API separately (node:http does; fetch merges). */
  readonly separateHeaders: boolean
  close(): Promise<void>
}

const origin = 'http://127.0.0.1'

/** Builds a Web Request; a chunked body becomes a stream, so it has no Content-Length. */
export function toRequest(request: TestRequest): Request {
  const headers = new Headers()
  for (const [name, value] of Object.entries(request.headers ?? {})) {
    for (const each of typeof value === 'string' ? [value] : value) headers.append(name, each)
  }
  const body = request.body === undefined ? undefined : bytesOf(request.body)
  // As a server's Request has it: declared unless the body is chunked.
  if (body && !request.chunked) headers.set('content-length', String(body.length))
  return new Request(`${origin}${request.path}`, {
    method: request.method,
    headers,
    body: body && request.chunked ? streamOf(body) : body,
    duplex: 'half',
  } as RequestInit)
}

function bytesOf(body: string | Uint8Array): Uint8Array {
  return typeof body === 'string' ? new TextEncoder().encode(body) : body
}

function streamOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (let i = 0; i < bytes.length; i += 16_384) controller.enqueue(bytes.slice(i, i + 16_384))
      controller.close()
    },
  })
}

/** Reads a Web Response the way the suite compares answers. */
export async function fromResponse(response: Response): Promise<TestResponse> {
  const headers: Record<string, string> = {}
  response.headers.forEach((value, name) => {
    headers[name] = value
  })
  return { status: response.status, headers, text: await response.text() }
}

/** The API called in-process, with a host route beside it through `next`. */
export function inProcess(api: AdminApi): Target {
  const host = () => Response.json({ ok: true })
  return {
    send: async (request) => {
      const next = request.path === '/health' ? host : undefined
      return fromResponse(await api.fetch(toRequest(request), next))
    },
    separateHeaders: false,
    close: async () => {},
  }
}

/** A real server on 127.0.0.1 and an ephemeral port, driven with node:http. */
export async function overHttp(server: Server, separateHeaders: boolean): Promise<Target> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    send: (request) => sendHttp(port, request),
    separateHeaders,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** Sends one request on its own connection and collects the answer. */
export function sendHttp(port: number, request: TestRequest): Promise<TestResponse> {
  const body = request.body === undefined ? undefined : bytesOf(request.body)
  const headers: Record<string, string | string[]> = { connection: 'close' }
  for (const [name, value] of Object.entries(request.headers ?? {})) {
    headers[name] = typeof value === 'string' ? value : [...value]
  }
  if (body && !request.chunked) headers['content-length'] = String(body.length)

  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      { host: '127.0.0.1', port, method: request.method, path: request.path, headers },
      (incoming) => {
        const chunks: Buffer[] = []
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk))
        incoming.on('end', () =>
          resolve({
            status: incoming.statusCode ?? 0,
            headers: flatHeaders(incoming.headers),
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        )
        incoming.on('error', reject)
      },
    )
    outgoing.on('error', reject)
    if (body) outgoing.write(body)
    outgoing.end()
  })
}

function flatHeaders(headers: Record<string, string | string[] | undefined>) {
  const flat: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value
  }
  return flat
}
