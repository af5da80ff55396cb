/**
 * The SQLite storage adapter: every storage contract of matrix-background-updates over
 * better-sqlite3 (an optional peer dependency, loaded only by this entry) and the reference schema.
 *
 * @module
 */

export { SqliteStorageAdapter, type SqliteStorageAdapterOptions } from './sqlite-adapter.js'
export { builtInSqliteCapabilities } from './sqlite-capabilities.js'
export type {
  SqliteCapabilityContext,
  SqliteCapabilityInstance,
  SqliteCapabilityModule,
  SqliteWriteOperation,
} from './sqlite-capability.js'
export type {
  SqliteDatabase,
  SqliteRunResult,
  SqliteStatement,
  SqliteTransaction,
} from './sqlite-driver.js'
export { sqliteEventsCapability } from './sqlite-events.js'
export { SqliteHomeserver } from './sqlite-homeserver.js'
export { SqliteLease } from './sqlite-lease.js'
export type { SqliteMigrationResult } from './sqlite-migrate.js'
export { sqliteRoomStateCapability, sqliteRoomStatsCapability } from './sqlite-room-state.js'
export { sqliteUndoLogCapability } from './sqlite-undo-log.js'
export {
  type SqliteUserDirectoryInstance,
  sqliteUserDirectoryCapability,
} from './sqlite-user-directory.js'
