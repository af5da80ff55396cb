import {
  EVENTS_CAPABILITY,
  type EventRow,
  type EventsReader,
  type OwnEventsQuery,
  REPLACE_EVENT_JSON,
  type ReplaceEventJsonRow,
  type StorageWrite,
  StoredRowError,
  type StreamOrderingBounds,
} from 'matrix-background-updates'
import {
  type SqliteCapabilityContext,
  type SqliteCapabilityInstance,
  type SqliteCapabilityModule,
  throwIfAborted,
} from './sqlite-capability.js'

interface EventQueryRow {
  readonly event_id: string
  readonly stream_ordering: number
  readonly room_version: string | null
  readonly json: string
  readonly rejected: number
}

/** The columns of an {@link EventRow}. */
function eventColumns(context: SqliteCapabilityContext): string {
  return `SELECT e.event_id, e.stream_ordering, r.room_version, j.json,
      e.rejection_reason IS NOT NULL AS rejected
    FROM ${context.table('events')} AS e
    JOIN ${context.table('event_json')} AS j ON j.event_id = e.event_id
    LEFT JOIN ${context.table('rooms')} AS r ON r.room_id = e.room_id`
}

/** Escapes `%`, `_` and the escape character itself for a LIKE pattern with `ESCAPE '\'`. */
function likeEscape(text: string): string {
  return text.replace(/[\\%_]/g, (character) => `\\${character}`)
}

/**
 * A stored integer beyond ±(2^53−1) comes back from better-sqlite3 rounded, to a number that is no
 * longer a safe integer, so checking the number read catches every such value.
 */
function checkOrdering(value: number, what: string): number {
  if (!Number.isSafeInteger(value)) {
    throw new StoredRowError('events', `stream_ordering of ${what} is not a safe integer`)
  }

  return value
}

function toEventRow(row: EventQueryRow): EventRow {
  checkOrdering(row.stream_ordering, row.event_id)

  return {
    event_id: row.event_id,
    stream_ordering: row.stream_ordering,
    room_version: row.room_version,
    json: row.json,
    rejected: row.rejected !== 0,
  }
}

function eventsReader(context: SqliteCapabilityContext): EventsReader {
  const pageSql = `${eventColumns(context)}
    WHERE e.stream_ordering > ? AND e.sender LIKE ? ESCAPE '\\'
      AND (? IS NULL OR e.received_ts < ?)
    ORDER BY e.stream_ordering LIMIT ?`
  const byIdSql = `${eventColumns(context)} WHERE e.event_id = ?`
  const minSql = `SELECT MIN(stream_ordering) AS value FROM ${context.table('events')}`
  const maxSql = `SELECT MAX(stream_ordering) AS value FROM ${context.table('events')}`

  return {
    async pageOwnEvents(query: OwnEventsQuery, signal?: AbortSignal): Promise<EventRow[]> {
      await context.open()
      throwIfAborted(signal)
      const pattern = `%:${likeEscape(query.serverName)}`
      const rows = context
        .statement(pageSql)
        .all(query.after, pattern, query.beforeTs, query.beforeTs, query.limit) as EventQueryRow[]

      return rows.map(toEventRow)
    },

    async readEvents(eventIds: readonly string[], signal?: AbortSignal): Promise<EventRow[]> {
      await context.open()
      throwIfAborted(signal)
      const statement = context.statement(byIdSql)

      return [...new Set(eventIds)].flatMap((eventId) => {
        const row = statement.get(eventId) as EventQueryRow | undefined
        return row ? [toEventRow(row)] : []
      })
    },

    async streamOrderingBounds(signal?: AbortSignal): Promise<StreamOrderingBounds | null> {
      await context.open()
      throwIfAborted(signal)
      const min = (context.statement(minSql).get() as { value: number | null }).value
      const max = (context.statement(maxSql).get() as { value: number | null }).value
      if (min === null || max === null) return null

      return {
        min: checkOrdering(min, 'the first event'),
        max: checkOrdering(max, 'the last event'),
      }
    },
  }
}

function replaceJson(context: SqliteCapabilityContext, write: StorageWrite) {
  const update = context.statement(
    `UPDATE ${context.table('event_json')} SET json = ? WHERE event_id = ? AND json = ?`,
  )
  const skipped: ReplaceEventJsonRow[] = []
  for (const row of write.rows as ReplaceEventJsonRow[]) {
    if (update.run(row.json, row.event_id, row.expected_json).changes === 0) skipped.push(row)
  }

  return { skipped }
}

/** The `events` capability over the reference schema's `events`, `event_json` and `rooms`. */
export const sqliteEventsCapability: SqliteCapabilityModule<
  SqliteCapabilityInstance<EventsReader>
> = {
  name: EVENTS_CAPABILITY,
  install(context) {
    return {
      reader: eventsReader(context),
      operations: { [REPLACE_EVENT_JSON]: (write) => replaceJson(context, write) },
    }
  },
}
