import { SchemaVersionError } from 'matrix-background-updates'
import {
  createVersionTableStatement,
  latestSchemaVersion,
  migrationStatements,
  schemaVersionTable,
} from '../sql/schema.js'
import type { SqliteDatabase } from './sqlite-driver.js'

/** What {@link migrateSqlite} did. */
export interface SqliteMigrationResult {
  /** The version the database had; 0 for a new one. */
  readonly fromVersion: number

  /** The version it has now. */
  readonly toVersion: number
}

/**
 * Creates or upgrades the reference schema in one `BEGIN IMMEDIATE` transaction, so two processes
 * migrating at once take turns and the second finds nothing to do. Idempotent.
 *
 * @throws {SchemaVersionError} The database is at a newer version than this library knows.
 */
export function migrateSqlite(
  database: SqliteDatabase,
  prefix: string,
  now: number,
): SqliteMigrationResult {
  const run = database.transaction(() => {
    database.exec(createVersionTableStatement('sqlite', prefix))
    const table = prefix + schemaVersionTable
    const row = database.prepare(`SELECT version FROM ${table}`).get() as
      | { version: number }
      | undefined
    const fromVersion = row?.version ?? 0
    if (fromVersion > latestSchemaVersion) {
      throw new SchemaVersionError(fromVersion, latestSchemaVersion)
    }
    if (fromVersion === latestSchemaVersion) return { fromVersion, toVersion: fromVersion }

    for (const statement of migrationStatements(fromVersion, 'sqlite', prefix)) {
      database.exec(statement)
    }
    database
      .prepare(
        `INSERT INTO ${table} (lock, version, upgraded_ts) VALUES ('X', ?, ?)
         ON CONFLICT (lock) DO UPDATE SET version = excluded.version, upgraded_ts = excluded.upgraded_ts`,
      )
      .run(latestSchemaVersion, now)

    return { fromVersion, toVersion: latestSchemaVersion }
  })

  return run.immediate()
}
