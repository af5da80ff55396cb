import { ROOM_STATE_CAPABILITY, type RoomStateReader } from '../adapters/capabilities/room-state.js'
import {
  type StagedRoom,
  type StagedRoomRow,
  type StagedUserRow,
  USER_DIRECTORY_CAPABILITY,
  USER_DIRECTORY_OPS,
} from '../adapters/capabilities/user-directory.js'
import type { WriteReport } from '../adapters/capabilities.js'
import type { JsonObject } from '../matrix/canonical-json.js'
import { RoomStateError } from '../matrix/errors.js'
import type {
  BatchContext,
  BatchResult,
  JobDefinition,
  Outcomes,
  UpdateDefinition,
} from '../runner/job.js'
import { type Logger, silentLogger } from '../runner/logger.js'
import { addCounts, countKinds, notifyHost, readCounts } from './job-progress.js'
import { assertServerName, isLocalUserId, type RoomCurrentState } from './room-state.js'
import {
  computeRoomDirectoryRows,
  localUserDirectoryEntry,
  type UserDirectoryOptions,
} from './user-directory.js'

/** The updates of `regenerate_directory`, in the order they run: Synapse's names. */
export const REGENERATE_DIRECTORY_UPDATES = [
  'populate_user_directory_createtables',
  'populate_user_directory_process_rooms',
  'populate_user_directory_process_users',
  'populate_user_directory_cleanup',
] as const

const [CREATETABLES, PROCESS_ROOMS, PROCESS_USERS, CLEANUP] = REGENERATE_DIRECTORY_UPDATES

/** How to build the `regenerate_directory` job. */
export interface RegenerateDirectoryJobOptions {
  /** Our server name, which tells local users from remote ones. */
  readonly serverName: string

  /**
   * Tells whether one of our users is kept out of the directory (deactivated, a support user, an
   * application service's user). Synchronous; asked about local users only. Default: nobody.
   */
  readonly isExcludedUser?: (userId: string) => boolean

  /**
   * Called once the rebuilt directory is live (after the commit of the swap), with the stream
   * position the rebuild began at: the host's incremental processor replays every change after it.
   * A throw or a rejection is logged and ignored.
   */
  readonly onDirectoryRebuilt?: (position: number) => unknown

  /** Where failed callbacks are logged. Default silent. */
  readonly logger?: Logger
}

interface Deps {
  readonly directory: UserDirectoryOptions
  readonly options: RegenerateDirectoryJobOptions
  readonly logger: Logger
}

/** What became of one staged room. */
type RoomOutcome = 'processed' | 'not-joined' | 'unloadable' | 'missing'

/**
 * The `regenerate_directory` job: rebuilds the user directory from the rooms our server is joined
 * to and from every local user, as Synapse's four chained updates do, into a staging copy that is
 * swapped in at the end, so readers see the old directory until the new one is whole. Takes no
 * parameters; unknown ones are ignored, as in Synapse. Needs the `room_state` and `user_directory`
 * capabilities. See docs/jobs.md.
 *
 * @throws {TypeError} `serverName` is not a non-empty string, or a callback is not a function.
 *
 * @example
 * ```ts
 * runner.registerJob(regenerateDirectoryJob({ serverName, onDirectoryRebuilt: (pos) => replay(pos) }))
 * ```
 */
export function regenerateDirectoryJob(
  options: RegenerateDirectoryJobOptions,
): JobDefinition<JsonObject> {
  const deps = checkOptions(options)
  const updates: UpdateDefinition<JsonObject>[] = [
    { name: CREATETABLES, oneshot: true, handler: (context) => createTables(context) },
    {
      name: PROCESS_ROOMS,
      dependsOn: CREATETABLES,
      handler: (context) => processRooms(context, deps),
    },
    {
      name: PROCESS_USERS,
      dependsOn: PROCESS_ROOMS,
      handler: (context) => processUsers(context, deps),
    },
    {
      name: CLEANUP,
      dependsOn: PROCESS_USERS,
      oneshot: true,
      handler: (context) => cleanup(context, deps),
    },
  ]

  return {
    name: 'regenerate_directory',
    startable: true,
    validate: () => ({}),
    updates: updates.map((update) => ({
      ...update,
      capabilities: [ROOM_STATE_CAPABILITY, USER_DIRECTORY_CAPABILITY],
    })),
  }
}

function checkOptions(options: RegenerateDirectoryJobOptions): Deps {
  assertServerName(options?.serverName)
  for (const name of ['isExcludedUser', 'onDirectoryRebuilt'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') {
      throw new TypeError(`${name} must be a function`)
    }
  }

  const directory: UserDirectoryOptions = { serverName: options.serverName }
  const withExclusion = options.isExcludedUser
    ? { ...directory, isExcludedUser: options.isExcludedUser }
    : directory
  return { directory: withExclusion, options, logger: options.logger ?? silentLogger }
}

/** Stages every room and user, and records the position the rebuild starts from. */
async function createTables(context: BatchContext): Promise<BatchResult> {
  const directory = context.storage.reader(USER_DIRECTORY_CAPABILITY)
  const position = await directory.currentStreamPosition(context.signal)
  if (!Number.isSafeInteger(position)) {
    throw new TypeError('the store gave a stream position that is not a safe integer')
  }

  return {
    items: 1,
    done: true,
    writes: [
      {
        capability: USER_DIRECTORY_CAPABILITY,
        op: USER_DIRECTORY_OPS.beginRebuild,
        rows: [{ stream_position: position }],
      },
    ],
  }
}

/** Processes staged rooms, largest state first, until their state events reach the batch size. */
async function processRooms(context: BatchContext, deps: Deps): Promise<BatchResult> {
  const directory = context.storage.reader(USER_DIRECTORY_CAPABILITY)
  const staged = takeByStateSize(
    await directory.stagedRooms(context.batchSize, context.signal),
    context.batchSize,
  )
  if (staged.length === 0) return { items: 0, done: true }

  const rooms = context.storage.reader(ROOM_STATE_CAPABILITY)
  const rows: StagedRoomRow[] = []
  const outcomes: RoomOutcome[] = []
  for (const room of staged) {
    const [row, outcome] = await roomRows(rooms, room.room_id, deps, context.signal)
    rows.push(row)
    outcomes.push(outcome)
  }

  const batch = countKinds(outcomes)
  return {
    items: staged.reduce((sum, room) => sum + room.events, 0),
    writes: [{ capability: USER_DIRECTORY_CAPABILITY, op: USER_DIRECTORY_OPS.stageRooms, rows }],
    outcomes: batch,
    progress: { counts: addCounts(readCounts(context.progress, PROCESS_ROOMS), batch) },
  }
}

/** The first rooms whose state events add up to the batch size, at least one. */
function takeByStateSize(rooms: readonly StagedRoom[], batchSize: number): StagedRoom[] {
  const taken: StagedRoom[] = []
  let events = 0
  for (const room of rooms) {
    if (taken.length > 0 && events >= batchSize) break
    taken.push(room)
    events += room.events
  }

  return taken
}

async function roomRows(
  rooms: RoomStateReader,
  roomId: string,
  deps: Deps,
  signal: AbortSignal,
): Promise<[StagedRoomRow, RoomOutcome]> {
  const empty: StagedRoomRow = {
    room_id: roomId,
    users_in_public_rooms: [],
    users_who_share_private_rooms: [],
    user_directory: [],
  }
  const state = await rooms.currentState(roomId, signal)
  if (state === null) return [empty, 'missing']

  try {
    const rows = computeRoomDirectoryRows(state as RoomCurrentState, deps.directory)
    if (!rows.host_joined) return [empty, 'not-joined']

    const { users_in_public_rooms, users_who_share_private_rooms, user_directory } = rows
    return [
      { room_id: roomId, users_in_public_rooms, users_who_share_private_rooms, user_directory },
      'processed',
    ]
  } catch (error) {
    if (error instanceof RoomStateError) return [empty, 'unloadable']
    throw error
  }
}

/** Gives every staged local user their entry from their global profile. */
async function processUsers(context: BatchContext, deps: Deps): Promise<BatchResult> {
  const directory = context.storage.reader(USER_DIRECTORY_CAPABILITY)
  const userIds = await directory.stagedUserIds(context.batchSize, context.signal)
  if (userIds.length === 0) return { items: 0, done: true }

  const profiles = new Map(
    (await directory.profiles(userIds, context.signal)).map((profile) => [
      profile.user_id,
      profile,
    ]),
  )
  const rows: StagedUserRow[] = userIds.map((userId) => ({
    user_id: userId,
    entry: isLocalUserId(userId, deps.directory.serverName)
      ? localUserDirectoryEntry(userId, profiles.get(userId), deps.directory)
      : null,
  }))
  const batch = countKinds(rows.map((row) => (row.entry === null ? 'excluded' : 'processed')))

  return {
    items: userIds.length,
    writes: [{ capability: USER_DIRECTORY_CAPABILITY, op: USER_DIRECTORY_OPS.stageUsers, rows }],
    outcomes: batch,
    progress: { counts: addCounts(readCounts(context.progress, PROCESS_USERS), batch) },
  }
}

/** Swaps the staging in and stores its position, in one transaction; then tells the host. */
async function cleanup(context: BatchContext, deps: Deps): Promise<BatchResult> {
  const directory = context.storage.reader(USER_DIRECTORY_CAPABILITY)
  const position = await directory.stagedPosition(context.signal)
  if (position === null) return { items: 0, done: true, outcomes: { 'nothing-staged': 1 } }

  return {
    items: 1,
    done: true,
    writes: [
      {
        capability: USER_DIRECTORY_CAPABILITY,
        op: USER_DIRECTORY_OPS.finishRebuild,
        rows: [{ stream_position: position }],
      },
    ],
    outcomes: (report: WriteReport) => afterSwap(report, position, deps),
  }
}

/** Called by the runner after the commit of the swap. */
function afterSwap(report: WriteReport, position: number, deps: Deps): Outcomes {
  if ((report.writes[0]?.applied ?? 0) === 0) return { 'not-swapped': 1 }

  notifyHost(deps.logger, 'onDirectoryRebuilt', deps.options.onDirectoryRebuilt, position)
  return { swapped: 1 }
}
