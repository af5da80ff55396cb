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
import {
  type SqliteCapabilityContext,
  type SqliteCapabilityInstance,
  type SqliteCapabilityModule,
  throwIfAborted,
} from './sqlite-capability.js'

/** Parses stored event JSON; text that does not parse is given as null, for the job to skip. */
function parseOrNull(text: string | null): unknown {
  if (text === null) return null
  try {
    return JSON.parse(text)
  } catch {
    return null
  }
}

function roomStateReader(context: SqliteCapabilityContext): RoomStateReader {
  const state = context.table('current_state_events')
  const pageSql = `SELECT DISTINCT room_id FROM ${state} WHERE room_id > ? ORDER BY room_id LIMIT ?`
  const stateSql = `SELECT j.json FROM ${state} AS c
    LEFT JOIN ${context.table('event_json')} AS j ON j.event_id = c.event_id
    WHERE c.room_id = ?`

  return {
    async pageRoomIds(after: string, limit: number, signal?: AbortSignal): Promise<string[]> {
      await context.open()
      throwIfAborted(signal)
      const rows = context.statement(pageSql).all(after, limit) as { room_id: string }[]

      return rows.map((row) => row.room_id)
    },

    async currentState(roomId: string, signal?: AbortSignal): Promise<StoredRoomState | null> {
      await context.open()
      throwIfAborted(signal)
      const rows = context.statement(stateSql).all(roomId) as { json: string | null }[]
      if (rows.length === 0) return null

      return { roomId, stateEvents: rows.map((row) => parseOrNull(row.json)) }
    },
  }
}

/** The `room_state` capability over `current_state_events` and `event_json`. Read only. */
export const sqliteRoomStateCapability: SqliteCapabilityModule<
  SqliteCapabilityInstance<RoomStateReader>
> = {
  name: ROOM_STATE_CAPABILITY,
  install(context) {
    return { reader: roomStateReader(context), operations: {} }
  },
}

const currentColumns = [
  'room_id',
  'current_state_events',
  'joined_members',
  'invited_members',
  'left_members',
  'banned_members',
  'knocked_members',
  'local_users_in_room',
] as const

const stateColumns = [
  'room_id',
  'name',
  'topic',
  'canonical_alias',
  'avatar',
  'join_rules',
  'history_visibility',
  'encryption',
  'room_type',
  'guest_access',
  'is_federatable',
] as const

function upsertSql(table: string, columns: readonly string[], extra: string[] = []): string {
  const all = [...columns, ...extra.map((column) => column.split(' AS ')[1] as string)]
  const values = [...columns.map(() => '?'), ...extra.map((column) => column.split(' AS ')[0])]
  const updates = all.slice(1).map((column) => `${column} = excluded.${column}`)

  return `INSERT INTO ${table} (${all.join(', ')}) SELECT ${values.join(', ')}
    WHERE TRUE ON CONFLICT (room_id) DO UPDATE SET ${updates.join(', ')}`
}

function upsertStats(context: SqliteCapabilityContext, write: StorageWrite) {
  const position = `(SELECT COALESCE(MAX(stream_id), 0) FROM ${context.table('current_state_delta_stream')}) AS completed_delta_stream_id`
  const current = context.statement(
    upsertSql(context.table('room_stats_current'), currentColumns, [position]),
  )
  const state = context.statement(upsertSql(context.table('room_stats_state'), stateColumns))
  for (const row of write.rows as RoomStatsRow[]) {
    current.run(...currentColumns.map((column) => row.current[column]))
    state.run(
      ...stateColumns.map((column) =>
        column === 'is_federatable' ? (row.state.is_federatable ? 1 : 0) : row.state[column],
      ),
    )
  }

  return { skipped: [] }
}

function roomStatsReader(context: SqliteCapabilityContext): RoomStatsReader {
  const currentSql = `SELECT ${currentColumns.join(', ')} FROM ${context.table('room_stats_current')} WHERE room_id = ?`
  const stateSql = `SELECT ${stateColumns.join(', ')} FROM ${context.table('room_stats_state')} WHERE room_id = ?`

  return {
    async read(roomId: string, signal?: AbortSignal): Promise<RoomStatsRow | null> {
      await context.open()
      throwIfAborted(signal)
      const current = context.statement(currentSql).get(roomId) as RoomStatsRow['current']
      const state = context.statement(stateSql).get(roomId) as
        | (Omit<RoomStatsRow['state'], 'is_federatable'> & { is_federatable: number })
        | undefined
      if (!current || !state) return null

      return { current, state: { ...state, is_federatable: state.is_federatable !== 0 } }
    },
  }
}

/** The `room_stats` capability over `room_stats_current` and `room_stats_state`. */
export const sqliteRoomStatsCapability: SqliteCapabilityModule<
  SqliteCapabilityInstance<RoomStatsReader>
> = {
  name: ROOM_STATS_CAPABILITY,
  install(context) {
    return {
      reader: roomStatsReader(context),
      operations: { [UPSERT_ROOM_STATS]: (write) => upsertStats(context, write) },
    }
  },
}
