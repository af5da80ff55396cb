import type { PostgresCapabilityModule } from './postgres-capability.js'
import { postgresEventsCapability } from './postgres-events.js'
import { postgresRoomStateCapability, postgresRoomStatsCapability } from './postgres-room-state.js'
import { postgresUndoLogCapability } from './postgres-undo-log.js'
import { postgresUserDirectoryCapability } from './postgres-user-directory.js'

/** Every built-in capability over the reference schema: what the built-in jobs need. */
export const builtInPostgresCapabilities: readonly PostgresCapabilityModule[] = [
  postgresEventsCapability,
  postgresRoomStateCapability,
  postgresRoomStatsCapability,
  postgresUndoLogCapability,
  postgresUserDirectoryCapability,
]
