import type {
  EventRow,
  EventsReader,
  OwnEventsQuery,
  ReplaceEventJsonRow,
  StreamOrderingBounds,
} from '../capabilities/events.js'
import type { StorageWrite } from '../capabilities.js'
import type { MemoryEventRecord, MemoryHomeserverData } from './memory-homeserver.js'

/** The `events` reader over a memory homeserver. */
export function memoryEventsReader(data: MemoryHomeserverData): EventsReader {
  return {
    async pageOwnEvents(query: OwnEventsQuery): Promise<EventRow[]> {
      const suffix = `:${query.serverName}`
      return [...data.events.values()]
        .filter((event) => event.stream_ordering > query.after && event.sender.endsWith(suffix))
        .filter((event) => query.beforeTs === null || event.received_ts < query.beforeTs)
        .sort((a, b) => a.stream_ordering - b.stream_ordering)
        .slice(0, query.limit)
        .map(toEventRow)
    },

    async readEvents(eventIds: readonly string[]): Promise<EventRow[]> {
      return [...new Set(eventIds)].flatMap((id) => {
        const event = data.events.get(id)
        return event ? [toEventRow(event)] : []
      })
    },

    async streamOrderingBounds(): Promise<StreamOrderingBounds | null> {
      const orderings = [...data.events.values()].map((event) => event.stream_ordering)
      if (orderings.length === 0) return null

      return { min: Math.min(...orderings), max: Math.max(...orderings) }
    },
  }
}

/** The `events` write `replace_json`: rewrites each row whose stored text is still the expected one. */
export function replaceEventJson(data: MemoryHomeserverData, write: StorageWrite) {
  const skipped: ReplaceEventJsonRow[] = []
  for (const row of write.rows as ReplaceEventJsonRow[]) {
    const stored = data.events.get(row.event_id)
    if (stored === undefined || stored.json !== row.expected_json) {
      skipped.push(row)
      continue
    }

    data.events.set(row.event_id, { ...stored, json: row.json })
  }

  return { skipped }
}

function toEventRow(event: MemoryEventRecord): EventRow {
  return {
    event_id: event.event_id,
    stream_ordering: event.stream_ordering,
    room_version: event.room_version,
    json: event.json,
    rejected: event.rejected,
  }
}
