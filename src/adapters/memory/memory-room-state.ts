import { compareCodePoints } from '../../matrix/canonical-json.js'
import type { RoomStateReader, StoredRoomState } from '../capabilities/room-state.js'
import type { RoomStatsReader, RoomStatsRow } from '../capabilities/room-stats.js'
import type { StorageWrite } from '../capabilities.js'
import type { MemoryHomeserverData } from './memory-homeserver.js'

/** The `room_state` reader over a memory homeserver. */
export function memoryRoomStateReader(data: MemoryHomeserverData): RoomStateReader {
  return {
    async pageRoomIds(after: string, limit: number): Promise<string[]> {
      return roomsWithState(data)
        .filter((roomId) => compareCodePoints(roomId, after) > 0)
        .sort(compareCodePoints)
        .slice(0, limit)
    },

    async currentState(roomId: string): Promise<StoredRoomState | null> {
      const events = data.roomState.get(roomId)
      if (events === undefined || events.length === 0) return null

      return { roomId, stateEvents: structuredClone(events) }
    },
  }
}

/** The rooms that have at least one current state event. */
export function roomsWithState(data: MemoryHomeserverData): string[] {
  return [...data.roomState.entries()]
    .filter(([, events]) => events.length > 0)
    .map(([roomId]) => roomId)
}

/** The `room_stats` reader over a memory homeserver. */
export function memoryRoomStatsReader(data: MemoryHomeserverData): RoomStatsReader {
  return {
    async read(roomId: string): Promise<RoomStatsRow | null> {
      const row = data.stats.get(roomId)
      return row === undefined ? null : structuredClone(row)
    },
  }
}

/** The `room_stats` write `upsert`: stores both rows of each room, replacing what was there. */
export function upsertRoomStats(data: MemoryHomeserverData, write: StorageWrite) {
  for (const row of write.rows as RoomStatsRow[]) {
    data.stats.set(row.current.room_id, structuredClone(row))
  }

  return { skipped: [] }
}
