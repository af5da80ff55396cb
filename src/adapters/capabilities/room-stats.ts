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

/**
 * The counts of one room, named as the columns of Synapse's `room_stats_current`. The host adds
 * `completed_delta_stream_id`, the stream position the state was read at.
 */
export interface RoomStatsCurrentColumns {
  /** The room ID. */
  readonly room_id: string

  /** How many events the current state holds. */
  readonly current_state_events: number

  /** Members whose membership is `join`. */
  readonly joined_members: number

  /** Members whose membership is `invite`. */
  readonly invited_members: number

  /** Members whose membership is `leave`. */
  readonly left_members: number

  /** Members whose membership is `ban`. */
  readonly banned_members: number

  /** Members whose membership is `knock`. */
  readonly knocked_members: number

  /**
   * Joined members of our server (the admin API's `joined_local_members`): members whose user ID's
   * server name, everything after its first `:`, equals ours.
   */
  readonly local_users_in_room: number
}

/**
 * The summary of one room's state, named as the columns of Synapse's `room_stats_state`. Every
 * text field is `null` when its event is absent, when the value is not a string, or when it holds
 * U+0000.
 */
export interface RoomStatsStateColumns {
  /** The room ID. */
  readonly room_id: string

  /** `m.room.name` `name`. */
  readonly name: string | null

  /**
   * The plain-text topic of `m.room.topic`: the `body` of the first valid `m.topic` `m.text`
   * representation whose `mimetype` is `text/plain` or absent, else `topic`. `null` when `topic`
   * itself is not a string.
   */
  readonly topic: string | null

  /** `m.room.canonical_alias` `alias`. */
  readonly canonical_alias: string | null

  /** `m.room.avatar` `url`. */
  readonly avatar: string | null

  /** `m.room.join_rules` `join_rule`. */
  readonly join_rules: string | null

  /** `m.room.history_visibility` `history_visibility`. */
  readonly history_visibility: string | null

  /** `m.room.encryption` `algorithm`. */
  readonly encryption: string | null

  /** `m.room.create` `type`, such as `m.space`. */
  readonly room_type: string | null

  /**
   * `m.room.guest_access` `guest_access`. An addition: Synapse's `populate_stats_process_rooms`
   * leaves this column as it was, and only its incremental processor writes it.
   */
  readonly guest_access: string | null

  /** `false` only when `m.room.create` holds `m.federate` with a value other than `true`. */
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
