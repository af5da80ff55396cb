import type { StorageWrite } from 'matrix-background-updates'
import type { PostgresQueryable } from './postgres-driver.js'

/** What a capability module gets from the {@link PostgresStorageAdapter} it is installed in. */
export interface PostgresCapabilityContext {
  /**
   * Runs a read on the pool (outside any batch transaction) and resolves with its rows. Throws if
   * `signal` is already aborted.
   */
  query<R>(text: string, values?: unknown[], signal?: AbortSignal): Promise<R[]>

  /** A reference table's qualified name, such as `mbu.events` or `mbu_events`. */
  table(name: string): string

  /** The adapter's clock, in milliseconds. */
  now(): number
}

/**
 * Applies one write of a batch on `client`, inside the batch's transaction: a rejection rolls the
 * whole batch back. Resolves with the rows skipped because their condition failed.
 */
export type PostgresWriteOperation = (
  write: StorageWrite,
  client: PostgresQueryable,
) => Promise<{ readonly skipped?: readonly unknown[] } | undefined>

/** A capability installed in one adapter: its read side and its write operations. */
export interface PostgresCapabilityInstance<Reader = unknown> {
  /** What `adapter.reader(name)` returns to handlers. */
  readonly reader: Reader

  /** The write operations by `op` name. */
  readonly operations: Readonly<Record<string, PostgresWriteOperation>>
}

/**
 * Adds a storage capability to the {@link PostgresStorageAdapter}: read methods and write
 * operations over the database. The built-in ones read and write the reference schema; a host
 * with its own schema passes modules of its own under the same names.
 */
export interface PostgresCapabilityModule<
  Instance extends PostgresCapabilityInstance = PostgresCapabilityInstance,
> {
  /** The capability's name, as jobs declare it. */
  readonly name: string

  /** Creates the capability in one adapter. Called once per adapter, before any connection. */
  install(context: PostgresCapabilityContext): Instance
}
