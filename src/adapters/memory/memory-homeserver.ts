import type { RoomStatsRow } from '../capabilities/room-stats.js'
import type { UndoLogEntry } from '../capabilities/undo-log.js'
import type {
  DirectoryEntryRow,
  LocalProfileRow,
  PrivateRoomPairRow,
  PublicRoomUserRow,
  StagedRoom,
} from '../capabilities/user-directory.js'
import type { MemoryCapabilityContext } from './memory-capability.js'
import type { MemoryTable } from './memory-table.js'

/** A stored event of the memory homeserver, with the columns the `events` capability reads. */
export interface MemoryEventRecord {
  readonly event_id: string
  readonly stream_ordering: number
  readonly room_version: string | null
  /** The stored JSON text. */
  readonly json: string
  readonly rejected: boolean
  /** The `sender` column, filed apart from the JSON as Synapse's `events.sender` is. */
  readonly sender: string
  /** When the event was received, in ms since the epoch. */
  readonly received_ts: number
}

/** The directory tables of one copy (live or staging). */
export interface MemoryDirectoryTables {
  readonly entries: MemoryTable<string, DirectoryEntryRow>
  readonly publicRooms: MemoryTable<string, PublicRoomUserRow>
  readonly privatePairs: MemoryTable<string, PrivateRoomPairRow>
  /** The stored position under the key `position`. */
  readonly position: MemoryTable<'position', number>
}

/**
 * The data of a homeserver held in one {@link MemoryStorageAdapter}: the tables the built-in
 * capabilities read and write, all journaled, so they roll back with a batch. Shared by the built-in
 * capability modules of one adapter.
 */
export interface MemoryHomeserverData {
  readonly events: MemoryTable<string, MemoryEventRecord>
  /** Room ID to its current state events (parsed; `null` for JSON that does not parse). */
  readonly roomState: MemoryTable<string, readonly unknown[]>
  /** The users registered on the server. */
  readonly users: MemoryTable<string, true>
  readonly profiles: MemoryTable<string, LocalProfileRow>
  readonly stats: MemoryTable<string, RoomStatsRow>
  readonly undoLog: MemoryTable<number, UndoLogEntry>
  /** The host's current state delta stream position under the key `position`. */
  readonly streamPosition: MemoryTable<'position', number>
  readonly liveDirectory: MemoryDirectoryTables
  readonly stagingDirectory: MemoryDirectoryTables
  readonly stagedRooms: MemoryTable<string, StagedRoom>
  readonly stagedUsers: MemoryTable<string, true>
}

/** Creates the empty tables of a memory homeserver in one adapter. */
export function createMemoryHomeserverData(context: MemoryCapabilityContext): MemoryHomeserverData {
  const directory = (): MemoryDirectoryTables => ({
    entries: context.table(),
    publicRooms: context.table(),
    privatePairs: context.table(),
    position: context.table(),
  })

  return {
    events: context.table(),
    roomState: context.table(),
    users: context.table(),
    profiles: context.table(),
    stats: context.table(),
    undoLog: context.table(),
    streamPosition: context.table(),
    liveDirectory: directory(),
    stagingDirectory: directory(),
    stagedRooms: context.table(),
    stagedUsers: context.table(),
  }
}

/** Removes every row of a journaled table, so that the removal rolls back with the batch. */
export function clearTable<K, V>(table: MemoryTable<K, V>): void {
  for (const key of [...table.entries()].map(([key]) => key)) table.delete(key)
}
