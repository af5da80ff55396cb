import { SchemaVersionError } from 'matrix-background-updates'
import {
  createVersionTableStatement,
  latestSchemaVersion,
  migrationStatements,
  schemaVersionTable,
} from '../sql/schema.js'
import type { PostgresQueryable } from './postgres-driver.js'

/** What {@link migratePostgres} did. */
export interface PostgresMigrationResult {
  /** The version the database had; 0 for a new one. */
  readonly fromVersion: number

  /** The version it has now. */
  readonly toVersion: number
}

/** Where the reference schema lives: a PostgreSQL schema (or the search path) and a table prefix. */
export interface PostgresSchemaPlace {
  /** The PostgreSQL schema, or null for the connection's search path. */
  readonly schema: string | null

  /** The table prefix. */
  readonly prefix: string
}

/**
 * Creates or upgrades the reference schema on `client` in one transaction under a transaction-level
 * advisory lock keyed by schema and prefix, so processes migrating at once take turns and the later
 * ones find nothing to do. Idempotent. The caller commits or rolls back.
 *
 * @throws {SchemaVersionError} The database is at a newer version than this library knows.
 */
export async function migratePostgres(
  client: PostgresQueryable,
  place: PostgresSchemaPlace,
  now: number,
): Promise<PostgresMigrationResult> {
  const lockKey = `matrix-background-updates:${place.schema ?? ''}:${place.prefix}`
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [lockKey])
  if (place.schema !== null) {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${place.schema}`)
    // Unqualified names in the generated DDL, indexes included, land in the schema; LOCAL ends
    // with the transaction, so the pooled connection keeps its own search path.
    await client.query(`SET LOCAL search_path TO ${place.schema}`)
  }

  await client.query(createVersionTableStatement('postgres', place.prefix))
  const table = place.prefix + schemaVersionTable
  const result = await client.query(`SELECT version FROM ${table}`)
  const fromVersion = (result.rows[0] as { version: number } | undefined)?.version ?? 0
  if (fromVersion > latestSchemaVersion) {
    throw new SchemaVersionError(fromVersion, latestSchemaVersion)
  }
  if (fromVersion === latestSchemaVersion) return { fromVersion, toVersion: fromVersion }

  for (const statement of migrationStatements(fromVersion, 'postgres', place.prefix)) {
    await client.query(statement)
  }
  await client.query(
    `INSERT INTO ${table} (lock, version, upgraded_ts) VALUES ('X', $1, $2)
     ON CONFLICT (lock) DO UPDATE SET version = excluded.version, upgraded_ts = excluded.upgraded_ts`,
    [latestSchemaVersion, now],
  )

  return { fromVersion, toVersion: latestSchemaVersion }
}
