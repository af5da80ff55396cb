/**
 * The `room_state` capability: the rooms the host knows and the current state of each, as Synapse's
 * `current_state_events` joined with `event_json` holds it. Read only; used by
 * `populate_stats_process_rooms` and `regenerate_directory`.
 *
 * **Rooms** are listed by ascending room ID compared by Unicode code point (byte order of UTF-8: in
 * SQLite the default `BINARY` collation, in PostgreSQL `COLLATE "C"`). A room is listed when it has
 * at least one current state event.
 *
 * **State.** {@link RoomStateReader.currentState} gives every event of the room's current state,
 * exactly one per `(type, state_key)`, each parsed from its stored JSON. The adapter does not check
 * the events: an event whose JSON does not parse is given as `null`, and the jobs' computations
 * reject a state holding it (or any event lacking `type`, `state_key` or `content`), so the job
 * skips and counts the room instead of failing.
 *
 * @module
 */

/** A room's current state as stored: the parsed events, `null` for text that does not parse. */
export interface StoredRoomState {
  /** The room ID. */
  readonly roomId: string

  /** One entry per current state event, in any order: the parsed event JSON, or `null`. */
  readonly stateEvents: readonly unknown[]
}

/** The read side of the `room_state` capability. */
export interface RoomStateReader {
  /**
   * Room IDs greater than `after` (`''` for the first page), ascending by code point, at most
   * `limit` (a positive integer).
   */
  pageRoomIds(after: string, limit: number, signal?: AbortSignal): Promise<string[]>

  /** The room's current state, or null when the room has no current state event. */
  currentState(roomId: string, signal?: AbortSignal): Promise<StoredRoomState | null>
}

/** The name of the capability. */
export const ROOM_STATE_CAPABILITY = 'room_state'
