/**
 * The `room_stats` capability: Synapse's `room_stats_current` and `room_stats_state` tables, one row
 * of each per room. Written by `populate_stats_process_rooms`.
 *
 * **Write `upsert`** ({@link RoomStatsRow}): for each row, inserts or replaces the room's
 * `room_stats_current` row with `current` and its `room_stats_state` row with `state`, both keyed by
 * `room_id`. The columns are named as in Synapse; a column the row does not carry keeps the value
 * the store gives it (a SQL adapter sets `completed_delta_stream_id` to the current state delta
 * stream position read in the same transaction, as Synapse's stats processor reads it). The write
 * is unconditional: stats are a pure function of the current state, and the host's incremental
 * processor overwrites them as the state moves on. No row is ever skipped.
 *
 * @module
 */

/** The counts of one room: Synapse's `room_stats_current` columns. */
export interface RoomStatsCurrentColumns {
  readonly room_id: string
  readonly current_state_events: number
  readonly joined_members: number
  readonly invited_members: number
  readonly left_members: number
  readonly banned_members: number
  readonly knocked_members: number
  readonly local_users_in_room: number
}

/**
 * The state summary of one room: Synapse's `room_stats_state` columns. `guest_access` is a column
 * Synapse's full recomputation leaves alone; here it is written too.
 */
export interface RoomStatsStateColumns {
  readonly room_id: string
  readonly name: string | null
  readonly topic: string | null
  readonly canonical_alias: string | null
  readonly avatar: string | null
  readonly join_rules: string | null
  readonly history_visibility: string | null
  readonly encryption: string | null
  readonly room_type: string | null
  readonly guest_access: string | null
  readonly is_federatable: boolean
}

/** A row of the `room_stats` write `upsert`: both rows of one room. */
export interface RoomStatsRow {
  /** The `room_stats_current` row. */
  readonly current: RoomStatsCurrentColumns

  /** The `room_stats_state` row. */
  readonly state: RoomStatsStateColumns
}

/** The read side of the `room_stats` capability. */
export interface RoomStatsReader {
  /** Both stats rows of a room, or null when it has none. */
  read(roomId: string, signal?: AbortSignal): Promise<RoomStatsRow | null>
}

/** The name of the capability. */
export const ROOM_STATS_CAPABILITY = 'room_stats'

/** The operation that writes the stats of rooms. */
export const UPSERT_ROOM_STATS = 'upsert'
