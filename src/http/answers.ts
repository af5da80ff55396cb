/** A framework-neutral HTTP answer: what the glue writes to a Response or a ServerResponse. */
export interface AdminAnswer {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>

  /** The body as text, or null for none (OPTIONS, and HEAD). */
  readonly body: string | null
}

/** Synapse's CORS headers, sent on every answer of its JSON resources and on OPTIONS. */
export const corsHeaders: Readonly<Record<string, string>> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, HEAD, POST, PUT, DELETE, OPTIONS',
  'Access-Control-Allow-Headers': 'X-Requested-With, Content-Type, Authorization, Date',
  'Access-Control-Expose-Headers': 'Synapse-Trace-Id, Server',
}

const jsonHeaders: Readonly<Record<string, string>> = {
  'Content-Type': 'application/json',
  'Cache-Control': 'no-cache, no-store, must-revalidate',
  ...corsHeaders,
}

/** The answer to OPTIONS: 204, an empty body and the CORS headers; no token needed. */
export function optionsAnswer(): AdminAnswer {
  return { status: 204, headers: { ...corsHeaders, 'Content-Length': '0' }, body: null }
}

/** A JSON answer, encoded as Synapse encodes its admin answers: compact, keys sorted. */
export function jsonAnswer(status: number, value: unknown): AdminAnswer {
  return { status, headers: jsonHeaders, body: JSON.stringify(value, sortKeys) }
}

/**
 * A Matrix error thrown inside the pipeline and turned into its answer in one place. `extra` holds
 * fields beside `errcode` and `error`, such as `soft_logout`.
 */
export class MatrixErrorAnswer {
  constructor(
    readonly status: number,
    readonly errcode: string,
    readonly error: string,
    readonly extra: Readonly<Record<string, unknown>> = {},
  ) {}

  /** The JSON answer `{"errcode", "error", …}`. */
  toAnswer(): AdminAnswer {
    return jsonAnswer(this.status, { errcode: this.errcode, error: this.error, ...this.extra })
  }
}

/** 413 `M_TOO_LARGE` for a body over the limit. */
export function tooLarge(maxBodyBytes: number): MatrixErrorAnswer {
  return new MatrixErrorAnswer(
    413,
    'M_TOO_LARGE',
    `Request content is too large (>${maxBodyBytes})`,
  )
}

/** 400 with Synapse's default errcode, `M_UNKNOWN`. */
export function badRequest(error: string, errcode = 'M_UNKNOWN'): MatrixErrorAnswer {
  return new MatrixErrorAnswer(400, errcode, error)
}

/** Synapse's answer to an unexpected error: no detail of it reaches the client. */
export function internalError(): MatrixErrorAnswer {
  return new MatrixErrorAnswer(500, 'M_UNKNOWN', 'Internal server error')
}

/** The same answer without its body, for HEAD. */
export function withoutBody(answer: AdminAnswer): AdminAnswer {
  return { ...answer, body: null }
}

function sortKeys(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value

  // No prototype, so a key named __proto__ stays an ordinary key.
  const sorted: Record<string, unknown> = Object.create(null)
  for (const key of Object.keys(value).sort(compareCodePoints)) {
    sorted[key] = (value as Record<string, unknown>)[key]
  }
  return sorted
}

/** Orders strings by Unicode code point, as Python (and so Synapse's canonical JSON) does. */
function compareCodePoints(a: string, b: string): number {
  const left = Array.from(a)
  const right = Array.from(b)
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    const difference = (left[i]?.codePointAt(0) ?? 0) - (right[i]?.codePointAt(0) ?? 0)
    if (difference !== 0) return difference
  }
  return left.length - right.length
}
