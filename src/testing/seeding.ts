import type { MemoryStorageAdapter, NewQueuedUpdate, QueuedUpdate } from 'matrix-background-updates'

/**
 * Queues updates in a memory adapter, as a host's schema migration would. A bare string queues an
 * update of that name with `{}` progress.
 *
 * @throws {DuplicateUpdateError} A name is queued already (nothing is queued).
 */
export async function seedUpdates(
  storage: MemoryStorageAdapter,
  updates: readonly (string | NewQueuedUpdate)[],
): Promise<void> {
  await storage.insertUpdates(
    updates.map((update) => (typeof update === 'string' ? { update_name: update } : update)),
  )
}

/** The queue of a memory adapter, in run order of `ordering` then name. */
export function queuedUpdates(storage: MemoryStorageAdapter): Promise<QueuedUpdate[]> {
  return storage.listPendingUpdates()
}
