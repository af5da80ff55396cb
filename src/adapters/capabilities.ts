import type { JsonValue } from '../matrix/canonical-json.js'
import type { BuiltInCapabilities } from './capabilities/index.js'
import { MissingCapabilityError } from './storage-errors.js'

/**
 * The read side of each storage capability, by name: the built-in ones (`events`, `room_state`,
 * `room_stats`, `undo_log`, `user_directory`), and any other added by declaration merging by the
 * module that defines it, so `reader(name)` is typed wherever that module is imported.
 *
 * @example
 * ```ts
 * declare module 'matrix-background-updates' {
 *   interface StorageCapabilities {
 *     notes: { readNotes(after: number, limit: number): Promise<Note[]> }
 *   }
 * }
 * ```
 */
export interface StorageCapabilities extends BuiltInCapabilities {}

/** The read interface of capability `K`: its registered type, or `unknown` for a name not registered. */
export type CapabilityReader<K extends string> = K extends keyof StorageCapabilities
  ? StorageCapabilities[K]
  : unknown

/**
 * One write of a batch, as data. The adapter applies it inside the batch's transaction through the
 * capability's operation `op`; the runner never interprets it.
 */
export interface StorageWrite<Row = unknown> {
  /** The capability that owns the operation, such as `events`. */
  readonly capability: string

  /** The operation of that capability, such as `replaceSignatures`. */
  readonly op: string

  /** The rows to write. Their shape is defined by the capability's operation. */
  readonly rows: readonly Row[]

  /**
   * A condition the operation checks per row, such as "only if unchanged since it was read". Its
   * meaning is defined by the operation; a row that fails it is skipped, not written, and reported.
   */
  readonly condition?: JsonValue
}

/** What became of one {@link StorageWrite} of a committed batch. */
export interface WriteResult {
  /** The capability of the write. */
  readonly capability: string

  /** The operation of the write. */
  readonly op: string

  /** How many of its rows were written. */
  readonly applied: number

  /** The rows that were not written because their condition failed, as given in the write. */
  readonly skipped: readonly unknown[]
}

/** What the writes of a batch did, in the order of the writes. Given to progress functions. */
export interface WriteReport {
  /** One entry per write. */
  readonly writes: readonly WriteResult[]

  /** The number of rows skipped over all writes. */
  readonly skippedCount: number
}

/** One write operation of a synchronous adapter: the rows it skipped, or nothing when none were. */
export type SyncWriteOperation = (
  write: StorageWrite,
) => { readonly skipped?: readonly unknown[] } | undefined

/**
 * Applies a batch's writes in order through synchronous operations and reports what each did. For
 * adapters whose transactions are synchronous (in memory, better-sqlite3): call it inside the
 * transaction, so a throw rolls every write back.
 *
 * @param findOperation gives the operation for a write's capability and `op`, or undefined.
 * @throws {MissingCapabilityError} for a write no installed capability serves; whatever an
 *   operation throws is passed on.
 */
export function applyStorageWrites(
  writes: readonly StorageWrite[],
  findOperation: (write: StorageWrite) => SyncWriteOperation | undefined,
): WriteReport {
  const results: WriteResult[] = []
  let skippedCount = 0

  for (const write of writes) {
    const operation = findOperation(write)
    if (!operation) {
      throw new MissingCapabilityError('A batch write', [`${write.capability}.${write.op}`])
    }

    const skipped = operation(write)?.skipped ?? []
    skippedCount += skipped.length
    results.push({
      capability: write.capability,
      op: write.op,
      applied: write.rows.length - skipped.length,
      skipped,
    })
  }
  return { writes: results, skippedCount }
}
