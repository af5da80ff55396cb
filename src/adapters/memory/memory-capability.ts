import type { StorageWrite } from '../capabilities.js'
import type { MemoryTable } from './memory-table.js'

/** What a capability module gets from the {@link MemoryStorageAdapter} it is installed in. */
export interface MemoryCapabilityContext {
  /** Creates a journaled table: changes made during a batch roll back with it. */
  table<K, V>(): MemoryTable<K, V>

  /** The adapter's clock, in milliseconds. */
  now(): number
}

/**
 * Applies one write of a batch, synchronously, inside the batch's transaction. Throwing rolls the
 * whole batch back. Returns the rows skipped because their condition failed (default none).
 */
export type MemoryWriteOperation = (
  write: StorageWrite,
) => { readonly skipped?: readonly unknown[] } | undefined

/** A capability installed in one adapter: its read side, its write operations, anything else. */
export interface MemoryCapabilityInstance<Reader = unknown> {
  /** What `adapter.reader(name)` returns to handlers. */
  readonly reader: Reader

  /** The write operations by `op` name. */
  readonly operations: Readonly<Record<string, MemoryWriteOperation>>
}

/**
 * Adds a storage capability to the {@link MemoryStorageAdapter}: its tables, read methods and write
 * operations. One module per capability; the adapter needs no change for a new one.
 */
export interface MemoryCapabilityModule<
  Instance extends MemoryCapabilityInstance = MemoryCapabilityInstance,
> {
  /** The capability's name, as jobs declare it. */
  readonly name: string

  /** Creates the capability's state in one adapter. Called once per adapter. */
  install(context: MemoryCapabilityContext): Instance
}
