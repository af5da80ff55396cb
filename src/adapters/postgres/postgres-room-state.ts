import {
  ROOM_STATE_CAPABILITY,
  ROOM_STATS_CAPABILITY,
  type RoomStateReader,
  type RoomStatsReader,
  type RoomStatsRow,
  type StorageWrite,
  type StoredRoomState,
  UPSERT_ROOM_STATS,
} from 'matrix-background-updates'
import type {
  PostgresCapabilityContext,
  PostgresCapabilityInstance,
  PostgresCapabilityModule,
} from './postgres-capability.js'
import type { PostgresQueryable } from './postgres-driver.js'
import { lastByKey, safeInteger } from './postgres-rows.js'

/** Parses stored event JSON; text that does not parse is given as null, for the job to skip. */
function parseOrNull(text: string | null): unknown {
  if (text === null) return null
  try {
    return JSON.parse(text)
  } catch {
    return null
  }
}

function roomStateReader(context: PostgresCapabilityContext): RoomStateReader {
  const state = context.table('current_state_events')
  // COLLATE "C" orders by bytes, which for UTF-8 is code point order, whatever the database's.
  const pageSql = `SELECT DISTINCT room_id COLLATE "C" AS room_id FROM ${state}
    WHERE room_id > $1 COLLATE "C" ORDER BY 1 LIMIT $2`
  const stateSql = `SELECT j.json FROM ${state} AS c
    LEFT JOIN ${context.table('event_json')} AS j ON j.event_id = c.event_id
    WHERE c.room_id = $1`

  return {
    async pageRoomIds(after: string, limit: number, signal?: AbortSignal): Promise<string[]> {
      const rows = await context.query<{ room_id: string }>(pageSql, [after, limit], signal)
      return rows.map((row) => row.room_id)
    },

    async currentState(roomId: string, signal?: AbortSignal): Promise<StoredRoomState | null> {
      const rows = await context.query<{ json: string | null }>(stateSql, [roomId], signal)
      if (rows.length === 0) return null

      return { roomId, stateEvents: rows.map((row) => parseOrNull(row.json)) }
    },
  }
}

/** The `room_state` capability over `current_state_events` and `event_json`. Read only. */
export const postgresRoomStateCapability: PostgresCapabilityModule<
  PostgresCapabilityInstance<RoomStateReader>
> = {
  name: ROOM_STATE_CAPABILITY,
  install(context) {
    return { reader: roomStateReader(context), operations: {} }
  },
}

const countColumns = [
  'current_state_events',
  'joined_members',
  'invited_members',
  'left_members',
  'banned_members',
  'knocked_members',
  'local_users_in_room',
] as const

const textColumns = [
  'name',
  'topic',
  'canonical_alias',
  'avatar',
  'join_rules',
  'history_visibility',
  'encryption',
  'room_type',
  'guest_access',
] as const

/** `$1::text[], $2::bigint[], …` for columns of the given array types, from `$first`. */
function unnestArguments(types: readonly string[], first = 1): string {
  return types.map((type, index) => `$${first + index}::${type}[]`).join(', ')
}

function currentUpsertSql(context: PostgresCapabilityContext): string {
  const columns = ['room_id', ...countColumns]
  const types = ['text', ...countColumns.map(() => 'bigint')]
  const updates = [...countColumns, 'completed_delta_stream_id'].map((c) => `${c} = excluded.${c}`)
  const position = `(SELECT COALESCE(MAX(stream_id), 0) FROM ${context.table('current_state_delta_stream')})`

  return `INSERT INTO ${context.table('room_stats_current')} (${columns.join(', ')}, completed_delta_stream_id)
    SELECT r.*, ${position} FROM unnest(${unnestArguments(types)}) AS r(${columns.join(', ')})
    ON CONFLICT (room_id) DO UPDATE SET ${updates.join(', ')}`
}

function stateUpsertSql(context: PostgresCapabilityContext): string {
  const columns = ['room_id', ...textColumns, 'is_federatable']
  const types = ['text', ...textColumns.map(() => 'text'), 'boolean']
  const updates = columns.slice(1).map((c) => `${c} = excluded.${c}`)

  return `INSERT INTO ${context.table('room_stats_state')} (${columns.join(', ')})
    SELECT * FROM unnest(${unnestArguments(types)})
    ON CONFLICT (room_id) DO UPDATE SET ${updates.join(', ')}`
}

/** Two statements whatever the number of rooms; a room given twice keeps its last row, as a loop. */
async function upsertStats(
  context: PostgresCapabilityContext,
  write: StorageWrite,
  client: PostgresQueryable,
) {
  const rows = lastByKey(write.rows as RoomStatsRow[], (row) => row.current.room_id)
  if (rows.length === 0) return { skipped: [] }

  const current = [
    rows.map((row) => row.current.room_id),
    ...countColumns.map((name) => rows.map((row) => row.current[name])),
  ]
  const state = [
    rows.map((row) => row.current.room_id),
    ...textColumns.map((name) => rows.map((row) => row.state[name])),
    rows.map((row) => row.state.is_federatable),
  ]
  await client.query(currentUpsertSql(context), current)
  await client.query(stateUpsertSql(context), state)

  return { skipped: [] }
}

type CurrentRow = Record<(typeof countColumns)[number], unknown> & { room_id: string }

function toCurrent(row: CurrentRow): RoomStatsRow['current'] {
  const counts = countColumns.map((name) => [
    name,
    safeInteger(row[name], 'room_stats_current', `${name} of ${row.room_id}`),
  ])
  return { room_id: row.room_id, ...Object.fromEntries(counts) } as RoomStatsRow['current']
}

function roomStatsReader(context: PostgresCapabilityContext): RoomStatsReader {
  const currentSql = `SELECT room_id, ${countColumns.join(', ')} FROM ${context.table('room_stats_current')} WHERE room_id = $1`
  const stateSql = `SELECT room_id, ${textColumns.join(', ')}, is_federatable FROM ${context.table('room_stats_state')} WHERE room_id = $1`

  return {
    async read(roomId: string, signal?: AbortSignal): Promise<RoomStatsRow | null> {
      const [current] = await context.query<CurrentRow>(currentSql, [roomId], signal)
      const [state] = await context.query<RoomStatsRow['state']>(stateSql, [roomId], signal)
      if (!current || !state) return null

      return { current: toCurrent(current), state }
    },
  }
}

/** The `room_stats` capability over `room_stats_current` and `room_stats_state`. */
export const postgresRoomStatsCapability: PostgresCapabilityModule<
  PostgresCapabilityInstance<RoomStatsReader>
> = {
  name: ROOM_STATS_CAPABILITY,
  install(context) {
    return {
      reader: roomStatsReader(context),
      operations: {
        [UPSERT_ROOM_STATS]: (write, client) => upsertStats(context, write, client),
      },
    }
  },
}
