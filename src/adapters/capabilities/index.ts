/**
 * The storage capabilities of the built-in jobs: their read interfaces, write rows and names.
 *
 * @module
 */
import type { EventsReader } from './events.js'
import type { RoomStateReader } from './room-state.js'
import type { RoomStatsReader } from './room-stats.js'
import type { UndoLogReader } from './undo-log.js'
import type { UserDirectoryReader } from './user-directory.js'

export * from './events.js'
export * from './room-state.js'
export * from './room-stats.js'
export * from './undo-log.js'
export * from './user-directory.js'

/**
 * The read sides of the built-in capabilities, by name. `StorageCapabilities` extends it, so
 * `reader('events')` is typed everywhere; other capabilities add themselves by declaration merging.
 */
export interface BuiltInCapabilities {
  events: EventsReader
  room_state: RoomStateReader
  room_stats: RoomStatsReader
  undo_log: UndoLogReader
  user_directory: UserDirectoryReader
}
