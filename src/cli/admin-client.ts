import { type CommandArgs, type OptionSpec, stringOption } from './command.js'
import { OperationalError, oneLine, UsageError } from './errors.js'
import type { CliIo } from './io.js'

/** The environment variable holding the homeserver's base URL. */
export const URL_VARIABLE = 'MATRIX_ADMIN_URL'

/** The environment variable holding a server admin's access token. */
export const TOKEN_VARIABLE = 'MATRIX_ADMIN_TOKEN'

const PREFIX = '/_synapse/admin/v1/background_updates'

/** The options of the commands that talk to a running server. */
export const serverOptions: Readonly<Record<string, OptionSpec>> = {
  url: {
    type: 'string',
    value: '<url>',
    description: `The homeserver's base URL (default: $${URL_VARIABLE}).`,
  },
  token: {
    type: 'string',
    value: '<token>',
    description: `A server admin's access token (default: $${TOKEN_VARIABLE}).`,
  },
}

/** Help shared by the commands that talk to a running server. */
export const serverDetails = `Talks to the admin API of a running homeserver. Prefer $${TOKEN_VARIABLE} to --token:
a flag is visible to other users in the process list.`

/** The status the admin API answers. */
export interface AdminStatus {
  readonly enabled: boolean
  readonly current_updates: Readonly<Record<string, CurrentUpdate>>
  readonly databases?: Readonly<Record<string, DatabaseStatus>>
}

/** One database's current update, as the admin API reports it. */
export interface CurrentUpdate {
  readonly name: string
  readonly total_item_count: number
  readonly total_duration_ms: number
  readonly average_items_per_ms: number | null
  readonly fraction_done?: number | null
  readonly eta_ms?: number | null
  readonly outcomes?: Readonly<Record<string, number>>
}

/** One database's state, an addition of this library's admin API. */
export interface DatabaseStatus {
  readonly state: string
  readonly pending_updates: readonly string[]
  readonly last_error: { readonly update_name: string | null; readonly message: string } | null
}

/** A client of the background updates admin API. */
export class AdminClient {
  readonly #base: URL
  readonly #token: string

  /** @throws {UsageError} The URL is not an http(s) URL. */
  constructor(baseUrl: string, token: string) {
    this.#base = parseBaseUrl(baseUrl)
    this.#token = token
  }

  /** `GET …/status`. */
  status(): Promise<AdminStatus> {
    return this.#request('GET', 'status') as Promise<AdminStatus>
  }

  /** `POST …/enabled`; resolves to the flag the server reports. */
  async setEnabled(enabled: boolean): Promise<boolean> {
    const answer = (await this.#request('POST', 'enabled', { enabled })) as { enabled: boolean }
    return answer.enabled
  }

  /** `POST …/start_job`. */
  async startJob(jobName: string, params: Record<string, unknown>): Promise<void> {
    await this.#request('POST', 'start_job', { job_name: jobName, ...params })
  }

  async #request(method: string, route: string, body?: unknown): Promise<unknown> {
    const url = new URL(`${this.#base.pathname.replace(/\/$/, '')}${PREFIX}/${route}`, this.#base)
    const headers: Record<string, string> = { authorization: `Bearer ${this.#token}` }
    if (body !== undefined) headers['content-type'] = 'application/json'

    let response: Response
    try {
      const payload = body === undefined ? null : JSON.stringify(body)
      response = await fetch(url, { method, headers, body: payload })
    } catch (error) {
      throw new OperationalError(`cannot reach ${this.#base.origin}: ${describeFetchError(error)}`)
    }
    return readAnswer(response)
  }
}

/**
 * The client for the `--url` and `--token` options, or the environment.
 *
 * @throws {UsageError} The URL or the token is missing.
 */
export function adminClientFor(args: CommandArgs, io: CliIo, command: string): AdminClient {
  const url = stringOption(args, 'url') ?? io.env[URL_VARIABLE]
  const token = stringOption(args, 'token') ?? io.env[TOKEN_VARIABLE]
  if (!url) throw new UsageError(`${command} needs --url or $${URL_VARIABLE}`)
  if (!token) throw new UsageError(`${command} needs --token or $${TOKEN_VARIABLE}`)
  return new AdminClient(url, token)
}

function parseBaseUrl(text: string): URL {
  let url: URL | null = null
  try {
    url = new URL(text)
  } catch {
    url = null
  }
  if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new UsageError(`--url must be an http or https URL, got '${text}'`)
  }
  return url
}

/** The network's reason (ECONNREFUSED, a bad port), not just fetch's "fetch failed". */
function describeFetchError(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } })?.cause
  if (typeof cause?.code === 'string') return cause.code
  return typeof cause?.message === 'string' ? cause.message : oneLine(error)
}

async function readAnswer(response: Response): Promise<unknown> {
  const text = await response.text()
  let body: unknown = null
  try {
    body = JSON.parse(text)
  } catch {
    body = null
  }
  if (response.ok && body !== null) return body

  const { errcode, error } = (body ?? {}) as { errcode?: unknown; error?: unknown }
  const reason = typeof errcode === 'string' ? `${errcode}: ${String(error)}` : 'no Matrix error'
  throw new OperationalError(`the server answered ${response.status} (${reason})`)
}
