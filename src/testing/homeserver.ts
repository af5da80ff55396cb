import {
  type MemoryBuiltInInstance,
  type MemoryHomeserver,
  MemoryStorageAdapter,
  type MemoryStorageAdapterOptions,
} from 'matrix-background-updates'

/**
 * A memory adapter with the built-in capabilities (`events`, `room_state`, `room_stats`,
 * `undo_log`, `user_directory`) and the handle that seeds and inspects their data.
 *
 * @example
 * ```ts
 * const { storage, homeserver } = createHomeserverStorage({ clock })
 * homeserver.addEvents([{ event, stream_ordering: 1, room_version: '10' }])
 * ```
 */
export function createHomeserverStorage(
  options: Omit<MemoryStorageAdapterOptions, 'builtInCapabilities'> = {},
): { storage: MemoryStorageAdapter; homeserver: MemoryHomeserver } {
  const storage = new MemoryStorageAdapter({ ...options, builtInCapabilities: true })
  return { storage, homeserver: homeserverOf(storage) }
}

/**
 * The seeding and inspection handle of a memory adapter's built-in capabilities.
 *
 * @throws {MissingCapabilityError} The adapter was made without them.
 */
export function homeserverOf(storage: MemoryStorageAdapter): MemoryHomeserver {
  return storage.instance<MemoryBuiltInInstance>('events').homeserver
}
