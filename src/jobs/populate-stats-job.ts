import { ROOM_STATE_CAPABILITY, type RoomStateReader } from '../adapters/capabilities/room-state.js'
import {
  ROOM_STATS_CAPABILITY,
  type RoomStatsRow,
  UPSERT_ROOM_STATS,
} from '../adapters/capabilities/room-stats.js'
import type { JsonObject } from '../matrix/canonical-json.js'
import { RoomStateError } from '../matrix/errors.js'
import type { BatchContext, BatchResult, JobDefinition } from '../runner/job.js'
import { addCounts, countKinds, readCounts } from './job-progress.js'
import type { RoomCurrentState } from './room-state.js'
import { assertServerName } from './room-state.js'
import { computeRoomStats } from './room-stats.js'

/** The name of the job and of its one update, as Synapse's admin API starts it. */
export const POPULATE_STATS = 'populate_stats_process_rooms'

/** How to build the `populate_stats_process_rooms` job. */
export interface PopulateStatsJobOptions {
  /** Our server name, which tells local members from remote ones. */
  readonly serverName: string
}

/** What became of one room: its stats rows, or why it was skipped. */
type RoomResult = RoomStatsRow | 'unloadable' | 'missing'

/**
 * The `populate_stats_process_rooms` job: recomputes the stats of every room from its current
 * state, in batches of rooms by room ID, as Synapse's does (plus `guest_access`). Rooms whose state
 * cannot be loaded are skipped and counted. Takes no parameters; unknown ones are ignored, as in
 * Synapse. Needs the `room_state` and `room_stats` capabilities. See docs/jobs.md.
 *
 * @throws {TypeError} `serverName` is not a non-empty string.
 *
 * @example
 * ```ts
 * runner.registerJob(populateStatsJob({ serverName: 'example.org' }))
 * ```
 */
export function populateStatsJob(options: PopulateStatsJobOptions): JobDefinition<JsonObject> {
  const serverName = options?.serverName
  assertServerName(serverName)

  return {
    name: POPULATE_STATS,
    startable: true,
    validate: () => ({}),
    updates: [
      {
        name: POPULATE_STATS,
        capabilities: [ROOM_STATE_CAPABILITY, ROOM_STATS_CAPABILITY],
        initialProgress: () => ({ last_room_id: '', counts: {} }),
        handler: (context) => statsBatch(context, serverName),
      },
    ],
  }
}

async function statsBatch(context: BatchContext, serverName: string): Promise<BatchResult> {
  const after = context.progress.last_room_id ?? ''
  if (typeof after !== 'string') throw new TypeError('last_room_id must be a room ID')
  const counts = readCounts(context.progress, POPULATE_STATS)

  const rooms = context.storage.reader(ROOM_STATE_CAPABILITY)
  const roomIds = await rooms.pageRoomIds(after, context.batchSize, context.signal)
  if (roomIds.length === 0) return { items: 0, done: true, fractionDone: 1 }

  const results: RoomResult[] = []
  for (const roomId of roomIds) results.push(await roomStats(rooms, roomId, serverName, context))
  const rows = results.filter((result) => typeof result !== 'string')
  const batch = countKinds(
    results.map((result) => (typeof result === 'string' ? result : 'computed')),
  )

  return {
    items: roomIds.length,
    writes: [{ capability: ROOM_STATS_CAPABILITY, op: UPSERT_ROOM_STATS, rows }],
    outcomes: batch,
    progress: { last_room_id: roomIds.at(-1) as string, counts: addCounts(counts, batch) },
  }
}

async function roomStats(
  rooms: RoomStateReader,
  roomId: string,
  serverName: string,
  context: BatchContext,
): Promise<RoomResult> {
  const state = await rooms.currentState(roomId, context.signal)
  if (state === null) return 'missing'

  try {
    return computeRoomStats(state as RoomCurrentState, serverName)
  } catch (error) {
    if (error instanceof RoomStateError) return 'unloadable'
    throw error
  }
}
