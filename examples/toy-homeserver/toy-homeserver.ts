/**
 * A toy homeserver for the admin API examples: two databases (`master` and `state`) on memory
 * storage, a token table standing in for the host's own, and one startable job. Real hosts look
 * tokens up in their database and register the built-in jobs.
 */
import {
  type AdminApi,
  BackgroundUpdateRunner,
  createAdminApi,
  ForbiddenError,
  type JobDefinition,
  JobParameterError,
  type Logger,
  MemoryStorageAdapter,
  UnknownTokenError,
} from 'matrix-background-updates'

/** The toy's access tokens. */
const users: Readonly<Record<string, { readonly userId: string; readonly admin: boolean }>> = {
  'admin-token': { userId: '@admin:example.org', admin: true },
  'user-token': { userId: '@alice:example.org', admin: false },
}

/** Lets server admins in, as the host's own token check would. */
export async function requireServerAdmin({ accessToken }: { accessToken: string }): Promise<void> {
  const user = Object.hasOwn(users, accessToken) ? users[accessToken] : undefined
  if (!user) throw new UnknownTokenError()
  if (!user.admin) throw new ForbiddenError()
}

/** A startable job with one parameter, `since_ts`, checked by its validator. */
export const rebuildSearchIndexJob: JobDefinition<{ since_ts: number }> = {
  name: 'rebuild_search_index',
  startable: true,
  validate(params) {
    const since = (params as { since_ts?: unknown }).since_ts ?? 0
    if (typeof since !== 'number' || !Number.isSafeInteger(since) || since < 0) {
      throw new JobParameterError('since_ts', "'since_ts' must be a non-negative integer")
    }
    return { since_ts: since }
  },
  updates: [
    {
      name: 'rebuild_search_index',
      initialProgress: ({ since_ts }) => ({ since_ts }),
      handler: async () => ({ items: 0, done: true }),
    },
  ],
}

/** A job the host runs itself: the admin API may not start it. */
export const compactStateJob: JobDefinition = {
  name: 'compact_state',
  updates: [{ name: 'compact_state', handler: async () => ({ items: 0, done: true }) }],
}

/** The toy's runners and its admin API. */
export interface ToyHomeserver {
  readonly master: BackgroundUpdateRunner
  readonly state: BackgroundUpdateRunner
  readonly api: AdminApi
}

/** Builds the toy: one runner per database, the jobs on `master`, and the admin API over both. */
export function createToyHomeserver(options: { logger?: Logger } = {}): ToyHomeserver {
  const master = new BackgroundUpdateRunner({ storage: new MemoryStorageAdapter(), ...options })
  const state = new BackgroundUpdateRunner({
    storage: new MemoryStorageAdapter(),
    database: 'state',
    ...options,
  })
  master.registerJob(rebuildSearchIndexJob)
  master.registerJob(compactStateJob)

  const api = createAdminApi({
    runners: [master, state],
    authorize: requireServerAdmin,
    ...options,
  })
  return { master, state, api }
}
