import type { JsonObject } from '../matrix/canonical-json.js'
import type { CapabilityReader, StorageWrite, WriteReport } from './capabilities.js'
import type { LeaseStore, LeaseToken } from './lease.js'

/** A row of the background update queue, as Synapse's `background_updates` table holds it. */
export interface QueuedUpdate {
  /** The update's unique name. */
  readonly update_name: string

  /** The handler's progress, a JSON object; `{}` before the first batch. */
  readonly progress: JsonObject

  /** The update that must leave the queue before this one may start, or null. */
  readonly depends_on: string | null

  /** Updates run by ascending `ordering`, then by name. Default 0. */
  readonly ordering: number
}

/** A row to queue. `progress` defaults to `{}`, `depends_on` to null and `ordering` to 0. */
export interface NewQueuedUpdate {
  readonly update_name: string
  readonly progress?: JsonObject
  readonly depends_on?: string | null
  readonly ordering?: number
}

/**
 * The new progress of a batch: a JSON object, or a synchronous function the adapter calls inside the
 * transaction, after the writes, with the report of what they did (so skipped rows can be recorded in
 * the same transaction).
 */
export type ProgressValue = JsonObject | ((report: WriteReport) => JsonObject)

/** Everything one batch commits, in one transaction. */
export interface BatchCommit {
  /** The update the batch belongs to. */
  readonly updateName: string

  /** The writes, applied in order. */
  readonly writes: readonly StorageWrite[]

  /** The new progress. Ignored when `done` is true, since the row is deleted. */
  readonly progress: ProgressValue

  /** When true, the update's row is deleted in the same transaction. */
  readonly done: boolean

  /** The lease token to check inside the transaction, when the runner holds a lease; else null. */
  readonly leaseToken: LeaseToken | null
}

/**
 * The outcome of {@link QueueStore.commitBatch}. `committed` false means nothing was written and the
 * batch did not happen: the lease was lost, or the update's row is no longer queued.
 */
export type CommitResult =
  | { readonly committed: true; readonly report: WriteReport }
  | { readonly committed: false; readonly reason: 'lease_lost' | 'update_missing' }

/**
 * The queue every adapter provides: Synapse's `background_updates` table plus the batch transaction.
 */
export interface QueueStore {
  /** The queued updates, ordered by `ordering`, then by `update_name`. */
  listPendingUpdates(): Promise<QueuedUpdate[]>

  /** The progress of a queued update, or null when it is not queued. */
  readProgress(updateName: string): Promise<JsonObject | null>

  /**
   * Queues several updates at once: all of them or, on error, none.
   *
   * @throws {DuplicateUpdateError} A name is already queued or appears twice.
   */
  insertUpdates(rows: readonly NewQueuedUpdate[]): Promise<void>

  /**
   * Removes a queued update. Resolves true if it was queued, false if not.
   *
   * @throws {UpdateHasDependentsError} Another queued update depends on it; nothing is removed.
   */
  deleteUpdate(updateName: string): Promise<boolean>

  /**
   * Applies a batch in one transaction: checks the lease token, applies the writes, stores the new
   * progress or, when done, deletes the row. A throw leaves nothing behind.
   *
   * @throws {MissingCapabilityError} A write names a capability or operation the adapter lacks.
   */
  commitBatch(commit: BatchCommit): Promise<CommitResult>
}

/**
 * A storage adapter: the queue, the capabilities it declares, and optionally a lease and a
 * classification of transient errors.
 */
export interface StorageAdapter extends QueueStore {
  /** The names of the capabilities this adapter serves, such as `events`. */
  readonly capabilities: readonly string[]

  /**
   * The read side of a capability, for handlers.
   *
   * @throws {MissingCapabilityError} The adapter does not serve it.
   */
  reader<K extends string>(capability: K): CapabilityReader<K>

  /**
   * Whether an error is transient (connection reset, SQLITE_BUSY, serialization failure), so the
   * batch is retried after a pause instead of counting as a failure. Absent: nothing is transient.
   */
  isTransientError?(error: unknown): boolean

  /** The lease that keeps one runner per database across processes. Absent: the runner is alone. */
  readonly lease?: LeaseStore
}
