import {
  EVENTS_CAPABILITY,
  type EventRow,
  type EventsReader,
  type OwnEventsQuery,
  REPLACE_EVENT_JSON,
  type ReplaceEventJsonRow,
  type StorageWrite,
  type StreamOrderingBounds,
} from 'matrix-background-updates'
import type {
  PostgresCapabilityContext,
  PostgresCapabilityInstance,
  PostgresCapabilityModule,
} from './postgres-capability.js'
import { type PostgresQueryable, queryRows } from './postgres-driver.js'
import { column, roundsByKey, safeInteger, safeIntegerOrNull } from './postgres-rows.js'

interface EventQueryRow {
  readonly event_id: string
  readonly stream_ordering: unknown
  readonly room_version: string | null
  readonly json: string
  readonly rejected: boolean
}

/** The columns of an {@link EventRow}. */
function eventColumns(context: PostgresCapabilityContext): string {
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

function toEventRow(row: EventQueryRow): EventRow {
  return {
    event_id: row.event_id,
    stream_ordering: safeInteger(
      row.stream_ordering,
      'events',
      `stream_ordering of ${row.event_id}`,
    ),
    room_version: row.room_version,
    json: row.json,
    rejected: row.rejected,
  }
}

function eventsReader(context: PostgresCapabilityContext): EventsReader {
  // The pattern is compared byte for byte (COLLATE "C"), whatever the database's collation.
  const pageSql = `${eventColumns(context)}
    WHERE e.stream_ordering > $1 AND e.sender LIKE $2 COLLATE "C" ESCAPE '\\'
      AND ($3::bigint IS NULL OR e.received_ts < $3)
    ORDER BY e.stream_ordering LIMIT $4`
  const byIdSql = `${eventColumns(context)} WHERE e.event_id = ANY($1::text[])`
  const boundsSql = `SELECT MIN(stream_ordering) AS min, MAX(stream_ordering) AS max
    FROM ${context.table('events')}`

  return {
    async pageOwnEvents(query: OwnEventsQuery, signal?: AbortSignal): Promise<EventRow[]> {
      const pattern = `%:${likeEscape(query.serverName)}`
      const values = [query.after, pattern, query.beforeTs, query.limit]
      const rows = await context.query<EventQueryRow>(pageSql, values, signal)

      return rows.map(toEventRow)
    },

    async readEvents(eventIds: readonly string[], signal?: AbortSignal): Promise<EventRow[]> {
      const ids = [...new Set(eventIds)]
      if (ids.length === 0) return []

      return (await context.query<EventQueryRow>(byIdSql, [ids], signal)).map(toEventRow)
    },

    async streamOrderingBounds(signal?: AbortSignal): Promise<StreamOrderingBounds | null> {
      const [row] = await context.query<{ min: unknown; max: unknown }>(boundsSql, [], signal)
      const min = safeIntegerOrNull(row?.min, 'events', 'stream_ordering of the first event')
      const max = safeIntegerOrNull(row?.max, 'events', 'stream_ordering of the last event')

      return min === null || max === null ? null : { min, max }
    },
  }
}

/**
 * One statement per round (a round has each event once): the update joins the rows to the stored
 * text and writes only where the text is still the expected one, returning what it wrote. The rows
 * travel as one JSON parameter: `pg` would escape every quote of every event text into an array
 * literal, which costs several times `JSON.stringify` of the same rows.
 */
async function replaceJson(
  context: PostgresCapabilityContext,
  write: StorageWrite,
  client: PostgresQueryable,
) {
  const sql = `UPDATE ${context.table('event_json')} AS j SET json = r.json
    FROM json_to_recordset($1::json) AS r(event_id text, expected_json text, json text)
    WHERE j.event_id = r.event_id AND j.json = r.expected_json
    RETURNING j.event_id`
  const skipped = new Set<ReplaceEventJsonRow>()
  const rows = write.rows as ReplaceEventJsonRow[]
  for (const round of roundsByKey(rows, (row) => row.event_id)) {
    const values = [
      JSON.stringify(
        round.map(({ event_id, expected_json, json }) => ({ event_id, expected_json, json })),
      ),
    ]
    const written = new Set(
      column(await queryRows<{ event_id: string }>(client, sql, values), 'event_id'),
    )
    for (const row of round) if (!written.has(row.event_id)) skipped.add(row)
  }

  return { skipped: rows.filter((row) => skipped.has(row)) }
}

/** The `events` capability over the reference schema's `events`, `event_json` and `rooms`. */
export const postgresEventsCapability: PostgresCapabilityModule<
  PostgresCapabilityInstance<EventsReader>
> = {
  name: EVENTS_CAPABILITY,
  install(context) {
    return {
      reader: eventsReader(context),
      operations: {
        [REPLACE_EVENT_JSON]: (write, client) => replaceJson(context, write, client),
      },
    }
  },
}
