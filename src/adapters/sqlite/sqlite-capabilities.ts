import type { SqliteCapabilityModule } from './sqlite-capability.js'
import { sqliteEventsCapability } from './sqlite-events.js'
import { sqliteRoomStateCapability, sqliteRoomStatsCapability } from './sqlite-room-state.js'
import { sqliteUndoLogCapability } from './sqlite-undo-log.js'
import { sqliteUserDirectoryCapability } from './sqlite-user-directory.js'

/** Every built-in capability over the reference schema: what the built-in jobs need. */
export const builtInSqliteCapabilities: readonly SqliteCapabilityModule[] = [
  sqliteEventsCapability,
  sqliteRoomStateCapability,
  sqliteRoomStatsCapability,
  sqliteUndoLogCapability,
  sqliteUserDirectoryCapability,
]
