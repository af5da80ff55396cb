/**
 * The PostgreSQL storage adapter: every storage contract of matrix-background-updates over `pg` 8
 * (an optional peer dependency, loaded only by this entry) and the reference schema, with a lease
 * that keeps one runner per database across processes.
 *
 * @module
 */

export { PostgresStorageAdapter, type PostgresStorageAdapterOptions } from './postgres-adapter.js'
export { builtInPostgresCapabilities } from './postgres-capabilities.js'
export type {
  PostgresCapabilityContext,
  PostgresCapabilityInstance,
  PostgresCapabilityModule,
  PostgresWriteOperation,
} from './postgres-capability.js'
export type {
  PostgresPool,
  PostgresPoolClient,
  PostgresQueryable,
  PostgresQueryResult,
} from './postgres-driver.js'
export { isPostgresTransientError } from './postgres-errors.js'
export { postgresEventsCapability } from './postgres-events.js'
export { PostgresHomeserver } from './postgres-homeserver.js'
export { PostgresLease } from './postgres-lease.js'
export type { PostgresMigrationResult } from './postgres-migrate.js'
export { postgresRoomStateCapability, postgresRoomStatsCapability } from './postgres-room-state.js'
export { postgresUndoLogCapability } from './postgres-undo-log.js'
export {
  type PostgresUserDirectoryInstance,
  postgresUserDirectoryCapability,
} from './postgres-user-directory.js'
