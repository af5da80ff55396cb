/**
 * The `events` capability: the host's stored events, read page by page and rewritten only where the
 * stored text is still what was read. Used by the `event_resign` job.
 *
 * **Rows.** One {@link EventRow} per stored event: its ID, its stream ordering, its room's version,
 * the stored JSON **as text, exactly as stored** (Synapse's `event_json.json`) and whether the event
 * was rejected (Synapse's `rejections`). The adapter never parses the JSON: text that does not parse,
 * or parses to something that is not an event, reaches the job as it is and is counted `malformed`
 * there. A room whose version is unknown gives `room_version: null`.
 *
 * **Stream orderings** are safe integers (`Number.isSafeInteger`). A driver that returns BIGINT as a
 * string (`pg`) must convert it; a value outside the safe range is an error of the read, never a
 * rounded number.
 *
 * **Write `replace_json`** ({@link ReplaceEventJsonRow}): for each row, replaces the stored JSON text
 * of `event_id` with `json` **only if** the stored text equals `expected_json` exactly, character for
 * character (in SQL: `UPDATE event_json SET json = $json WHERE event_id = $id AND json = $expected`).
 * A row whose event is gone or whose text differs is not written and is reported as skipped, as
 * given. Nothing else of the event (other tables, IDs, stream orderings) changes. The write's
 * `condition` is not used: the operation is always conditional.
 *
 * @module
 */

/** One stored event, as {@link EventsReader} returns it. */
export interface EventRow {
  /** The event ID the store files it under. */
  readonly event_id: string

  /** Its stream ordering: a safe integer, negative for backfilled events. */
  readonly stream_ordering: number

  /** The version of its room (`rooms.room_version`), or null when the store does not know it. */
  readonly room_version: string | null

  /** The stored event JSON, as text, exactly as stored: the value `replace_json` compares with. */
  readonly json: string

  /** Whether the event was rejected when it was received. */
  readonly rejected: boolean
}

/** Which events {@link EventsReader.pageOwnEvents} returns. */
export interface OwnEventsQuery {
  /** Our server name: only events whose `sender` ends with `:` and this name, compared exactly. */
  readonly serverName: string

  /** Only events whose stream ordering is greater than this. */
  readonly after: number

  /** When not null, only events received (`received_ts`, ms since the epoch) before this. */
  readonly beforeTs: number | null

  /** At most this many events: a positive integer. */
  readonly limit: number
}

/** The lowest and highest stream ordering of the stored events. */
export interface StreamOrderingBounds {
  /** The lowest stream ordering. */
  readonly min: number

  /** The highest stream ordering. */
  readonly max: number
}

/** The read side of the `events` capability. */
export interface EventsReader {
  /**
   * A page of events sent from our server, by ascending stream ordering. The sender test is a
   * suffix match on the `sender` column (`LIKE '%:' || serverName`, with `%` and `_` of the name
   * escaped); the job checks the server name of each sender again, so a store may return more,
   * never fewer. Rejected events are included, with `rejected: true`.
   */
  pageOwnEvents(query: OwnEventsQuery, signal?: AbortSignal): Promise<EventRow[]>

  /** The events of these IDs that are stored, in any order; unknown IDs are left out. */
  readEvents(eventIds: readonly string[], signal?: AbortSignal): Promise<EventRow[]>

  /** The lowest and highest stream ordering of all stored events, or null when there are none. */
  streamOrderingBounds(signal?: AbortSignal): Promise<StreamOrderingBounds | null>
}

/** A row of the `events` write `replace_json`: applied only if the stored text is `expected_json`. */
export interface ReplaceEventJsonRow {
  /** The event to rewrite. */
  readonly event_id: string

  /** The stored text as it was read; the row is skipped when the stored text differs. */
  readonly expected_json: string

  /** The new text to store. */
  readonly json: string
}

/** The name of the capability. */
export const EVENTS_CAPABILITY = 'events'

/** The operation that rewrites stored event JSON on condition. */
export const REPLACE_EVENT_JSON = 'replace_json'
