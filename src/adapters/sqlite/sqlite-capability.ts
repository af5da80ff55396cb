import type { StorageWrite } from 'matrix-background-updates'
import type { SqliteDatabase, SqliteStatement } from './sqlite-driver.js'

/** What a capability module gets from the {@link SqliteStorageAdapter} it is installed in. */
export interface SqliteCapabilityContext {
  /** Resolves once the database is open. Read methods await it before their first statement. */
  open(): Promise<void>

  /** The open database. @throws {Error} It is not open yet. */
  database(): SqliteDatabase

  /** A prepared statement for `source`, prepared once per adapter. The database must be open. */
  statement(source: string): SqliteStatement

  /** A reference table's name with the adapter's prefix, such as `mbu_events`. */
  table(name: string): string

  /** The adapter's clock, in milliseconds. */
  now(): number
}

/**
 * Applies one write of a batch, synchronously, inside the batch's better-sqlite3 transaction.
 * Throwing rolls the whole batch back. Returns the rows skipped because their condition failed.
 */
export type SqliteWriteOperation = (
  write: StorageWrite,
) => { readonly skipped?: readonly unknown[] } | undefined

/** A capability installed in one adapter: its read side and its write operations. */
export interface SqliteCapabilityInstance<Reader = unknown> {
  /** What `adapter.reader(name)` returns to handlers. */
  readonly reader: Reader

  /** The write operations by `op` name. */
  readonly operations: Readonly<Record<string, SqliteWriteOperation>>
}

/**
 * Adds a storage capability to the {@link SqliteStorageAdapter}: read methods and write operations
 * over the database. The built-in ones read and write the reference schema; a host with its own
 * schema passes modules of its own under the same names.
 */
export interface SqliteCapabilityModule<
  Instance extends SqliteCapabilityInstance = SqliteCapabilityInstance,
> {
  /** The capability's name, as jobs declare it. */
  readonly name: string

  /** Creates the capability in one adapter. Called once per adapter, before the database opens. */
  install(context: SqliteCapabilityContext): Instance
}

/** Checks the signal between statements: a read of an aborted batch stops early. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  signal?.throwIfAborted()
}
