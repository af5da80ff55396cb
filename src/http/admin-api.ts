import { type Logger, silentLogger } from '../runner/logger.js'
import type { BackgroundUpdateRunner } from '../runner/runner.js'
import { extractAccessToken } from './access-token.js'
import {
  type AdminAnswer,
  internalError,
  jsonAnswer,
  MatrixErrorAnswer,
  optionsAnswer,
  tooLarge,
  withoutBody,
} from './answers.js'
import { authorizationFailure } from './authorization.js'
import type { BodySource } from './request-body.js'
import { findRoute } from './routes.js'

/** What `authorize` learns of a request. */
export interface AuthorizationRequest {
  /** The access token, extracted as Synapse does; may be empty (`?access_token=`). */
  readonly accessToken: string

  /** The HTTP method, as sent. */
  readonly method: string

  /** The request path, percent-encoded, without the query string. */
  readonly path: string

  /** The request headers. */
  readonly headers: Headers
}

/**
 * Decides whether the request comes from a server admin. Resolves when it does; otherwise throws
 * `MissingTokenError`, `UnknownTokenError` or `ForbiddenError`. Anything else it throws is an
 * internal error (500, logged).
 */
export type Authorize = (request: AuthorizationRequest) => Promise<void>

/** Options of {@link createAdminApi}. */
export interface AdminApiOptions {
  /** One runner or a list, one per database, each with its own `database` name. */
  readonly runners: BackgroundUpdateRunner | readonly BackgroundUpdateRunner[]

  /** Required: there is no default that lets anyone in. */
  readonly authorize: Authorize

  /** The database whose runner `start_job` queues on, as Synapse's main store. Default `master`. */
  readonly mainDatabase?: string

  /** The largest body read, in bytes; past it the answer is 413. Default 65,536. */
  readonly maxBodyBytes?: number

  /** Where unexpected errors are logged (pino-compatible). Default: silent. */
  readonly logger?: Logger
}

/** A request as every glue hands it to the pipeline. */
export interface AdminRequest {
  readonly method: string

  /** Percent-encoded, without the query string. */
  readonly path: string

  /** The raw query string, without `?`. */
  readonly query: string
  readonly headers: Headers

  /** Every `Authorization` header value in order. */
  readonly authorization: readonly string[]
  readonly body: BodySource
}

/** The settings of an admin API once its options are checked. */
export interface AdminApiSettings {
  readonly runners: readonly BackgroundUpdateRunner[]
  readonly main: BackgroundUpdateRunner
  readonly authorize: Authorize
  readonly maxBodyBytes: number
  readonly logger: Logger
}

/**
 * Checks the options of {@link createAdminApi}.
 *
 * @throws {TypeError} An option has the wrong type, or two runners share a database name.
 * @throws {RangeError} `maxBodyBytes` is not a non-negative integer, or no runner serves
 *   `mainDatabase`.
 */
export function resolveAdminApiOptions(options: AdminApiOptions): AdminApiSettings {
  if (typeof options !== 'object' || options === null) throw new TypeError('options are required')
  const runners = checkRunners(options.runners)
  if (typeof options.authorize !== 'function') {
    throw new TypeError('authorize must be a function: there is no default that lets anyone in')
  }

  const mainDatabase = options.mainDatabase ?? 'master'
  if (typeof mainDatabase !== 'string') throw new TypeError('mainDatabase must be a string')
  const main = runners.find((runner) => runner.database === mainDatabase)
  if (!main) throw new RangeError(`No runner serves the main database ${mainDatabase}`)

  const maxBodyBytes = options.maxBodyBytes ?? 65_536
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 0) {
    throw new RangeError(`maxBodyBytes must be an integer >= 0, got ${String(maxBodyBytes)}`)
  }

  const logger = options.logger ?? silentLogger
  if (typeof logger?.error !== 'function') throw new TypeError('logger must have an error method')

  return { runners, main, authorize: options.authorize, maxBodyBytes, logger }
}

function checkRunners(given: AdminApiOptions['runners']): BackgroundUpdateRunner[] {
  const runners = Array.isArray(given) ? [...given] : [given as BackgroundUpdateRunner]
  if (runners.length === 0) throw new TypeError('runners must name at least one runner')

  const names = new Set<string>()
  for (const runner of runners) {
    if (typeof runner?.status !== 'function' || typeof runner.database !== 'string') {
      throw new TypeError('runners must be BackgroundUpdateRunner instances')
    }
    if (names.has(runner.database)) {
      throw new TypeError(`Two runners serve the database ${runner.database}`)
    }
    names.add(runner.database)
  }
  return runners
}

/**
 * Answers one request, in Synapse's order: OPTIONS, the Content-Length limit, routing (404/405),
 * the token and `authorize`, then the route (which reads the body). HEAD answers carry no body.
 */
export async function answerRequest(
  settings: AdminApiSettings,
  request: AdminRequest,
): Promise<AdminAnswer> {
  if (request.method === 'OPTIONS') return optionsAnswer()

  const answer = await answerOrFail(settings, request)
  return request.method === 'HEAD' ? withoutBody(answer) : answer
}

async function answerOrFail(settings: AdminApiSettings, request: AdminRequest) {
  try {
    checkContentLength(request.headers, settings.maxBodyBytes)
    const handler = findRoute(request.method, request.path)
    await authorizeRequest(settings, request)

    const value = await handler({ ...settings, body: request.body })
    return jsonAnswer(200, value)
  } catch (error) {
    if (error instanceof MatrixErrorAnswer) return error.toAnswer()

    settings.logger.error(
      { err: error, method: request.method, path: request.path },
      'The background updates admin API failed to answer a request',
    )
    return internalError().toAnswer()
  }
}

/** A declared length over the limit is refused before anything else is done. */
function checkContentLength(headers: Headers, maxBodyBytes: number): void {
  const declared = headers.get('content-length')
  if (declared === null || !/^\d+$/.test(declared.trim())) return

  if (Number(declared.trim()) > maxBodyBytes) throw tooLarge(maxBodyBytes)
}

async function authorizeRequest(settings: AdminApiSettings, request: AdminRequest) {
  const accessToken = extractAccessToken(request)
  try {
    await settings.authorize({
      accessToken,
      method: request.method,
      path: request.path,
      headers: request.headers,
    })
  } catch (error) {
    throw authorizationFailure(error) ?? error
  }
}
