import { MatrixBackgroundUpdatesError } from '../matrix/errors.js'

/**
 * A database's schema is newer than this version of the library knows, so migrating it could lose
 * data. Upgrade the library, or use another table prefix.
 */
export class SchemaVersionError extends MatrixBackgroundUpdatesError {
  /** The version the database records. */
  readonly databaseVersion: number

  /** The newest version this library knows. */
  readonly knownVersion: number

  constructor(databaseVersion: number, knownVersion: number) {
    super(
      'ERR_SCHEMA_VERSION',
      `The database schema is at version ${databaseVersion}; this library knows up to ${knownVersion}`,
    )
    this.databaseVersion = databaseVersion
    this.knownVersion = knownVersion
  }
}

/**
 * A stored row cannot be read as the contract requires: queued progress that is not a JSON object,
 * or a number outside the safe integer range. Nothing was changed.
 */
export class StoredRowError extends MatrixBackgroundUpdatesError {
  /** The table the row is in, without the prefix. */
  readonly table: string

  constructor(table: string, reason: string) {
    super('ERR_STORED_ROW', `A row of ${table} cannot be read: ${reason}`)
    this.table = table
  }
}
