import { DuplicateUpdateError } from '../adapters/storage-errors.js'
import { JobParameterError } from '../runner/errors.js'
import type { BackgroundUpdateRunner } from '../runner/runner.js'
import type { RunnerStatus } from '../runner/status.js'
import { badRequest, MatrixErrorAnswer } from './answers.js'
import { type BodySource, type JsonBody, readJsonObject } from './request-body.js'

/** The one path prefix the admin API owns. */
export const adminPrefix = '/_synapse/admin/v1/background_updates'

/** What a route handler needs. */
export interface RouteContext {
  readonly runners: readonly BackgroundUpdateRunner[]
  readonly main: BackgroundUpdateRunner
  readonly maxBodyBytes: number
  readonly body: BodySource
}

/** Answers a routed request with the JSON value of a 200 answer, or throws a MatrixErrorAnswer. */
type RouteHandler = (context: RouteContext) => Promise<unknown>

const routes: Readonly<Record<string, Readonly<Record<string, RouteHandler>>>> = {
  [`${adminPrefix}/status`]: { GET: status },
  [`${adminPrefix}/enabled`]: { GET: getEnabled, POST: setEnabled },
  [`${adminPrefix}/start_job`]: { POST: startJob },
}

/** Whether a path (percent-encoded, without the query) belongs to the admin API. */
export function ownsPath(path: string): boolean {
  return path === adminPrefix || path.startsWith(`${adminPrefix}/`)
}

/**
 * The handler of a route, matched as Synapse's router does: on the exact path, with HEAD served as
 * GET and methods compared case-sensitively.
 *
 * @throws {MatrixErrorAnswer} 404 for an unknown path, 405 for a method the route lacks.
 */
export function findRoute(method: string, path: string): RouteHandler {
  const methods = Object.hasOwn(routes, path) ? routes[path] : undefined
  if (!methods) throw unrecognizedRequest(404)

  const asGet = method === 'HEAD' ? 'GET' : method
  const handler = Object.hasOwn(methods, asGet) ? methods[asGet] : undefined
  if (!handler) throw unrecognizedRequest(405)

  return handler
}

function unrecognizedRequest(status: 404 | 405): MatrixErrorAnswer {
  return new MatrixErrorAnswer(status, 'M_UNRECOGNIZED', 'Unrecognized request')
}

/** `GET …/status`: Synapse's `enabled` and `current_updates`, plus each database's state. */
async function status({ runners }: RouteContext): Promise<unknown> {
  const [statuses, enabled] = await Promise.all([
    Promise.all(runners.map((runner) => runner.status())),
    allEnabled(runners),
  ])

  return {
    enabled,
    current_updates: currentUpdates(statuses),
    databases: Object.fromEntries(
      statuses.map((each) => [
        each.database,
        { state: each.state, last_error: each.last_error, pending_updates: each.pending_updates },
      ]),
    ),
  }
}

function currentUpdates(statuses: readonly RunnerStatus[]): Record<string, unknown> {
  const updates: Record<string, unknown> = {}
  for (const each of statuses) {
    if (each.current_update) updates[each.database] = each.current_update
  }
  return updates
}

async function allEnabled(runners: readonly BackgroundUpdateRunner[]): Promise<boolean> {
  const flags = await Promise.all(runners.map((runner) => runner.isEnabled()))
  return flags.every(Boolean)
}

/** `GET …/enabled`: whether updates are enabled on every database. */
async function getEnabled({ runners }: RouteContext): Promise<unknown> {
  return { enabled: await allEnabled(runners) }
}

/** `POST …/enabled`: sets every runner (absent means true) and restarts them when enabling. */
async function setEnabled({ runners, body, maxBodyBytes }: RouteContext): Promise<unknown> {
  const content = await readJsonObject(body, maxBodyBytes)
  const enabled = Object.hasOwn(content, 'enabled') ? content.enabled : true
  if (typeof enabled !== 'boolean') throw badRequest("'enabled' parameter must be a boolean")

  for (const runner of runners) {
    await runner.setEnabled(enabled)
    if (enabled) runner.resume()
  }
  return { enabled }
}

/** `POST …/start_job`: validates and queues a startable job on the main database. */
async function startJob({ main, body, maxBodyBytes }: RouteContext): Promise<unknown> {
  const content = await readJsonObject(body, maxBodyBytes)
  if (!Object.hasOwn(content, 'job_name')) {
    throw badRequest("Missing params: ['job_name']", 'M_MISSING_PARAM')
  }

  const jobName = content.job_name
  if (typeof jobName !== 'string' || main.job(jobName)?.startable !== true) {
    throw badRequest('Invalid job_name')
  }

  await queueJob(main, jobName, withoutJobName(content))
  main.resume()
  return {}
}

async function queueJob(runner: BackgroundUpdateRunner, jobName: string, params: JsonBody) {
  try {
    await runner.startJob(jobName, params)
  } catch (error) {
    if (error instanceof JobParameterError) throw badRequest(error.message, error.errcode)
    if (error instanceof DuplicateUpdateError) {
      throw badRequest(`Job ${jobName} is already in queue of background updates.`)
    }
    throw error
  }
}

/**
 * The job's parameters: the body without `job_name`, which names the job and is not one.
 * `Object.fromEntries` defines properties, so a `__proto__` key stays an ordinary key.
 */
function withoutJobName(content: JsonBody): JsonBody {
  return Object.fromEntries(Object.entries(content).filter(([key]) => key !== 'job_name'))
}
