import { EVENTS_CAPABILITY, REPLACE_EVENT_JSON } from '../capabilities/events.js'
import { ROOM_STATE_CAPABILITY } from '../capabilities/room-state.js'
import { ROOM_STATS_CAPABILITY, UPSERT_ROOM_STATS } from '../capabilities/room-stats.js'
import {
  APPEND_UNDO_LOG,
  PRUNE_UNDO_LOG,
  REMOVE_UNDO_LOG,
  UNDO_LOG_CAPABILITY,
} from '../capabilities/undo-log.js'
import { USER_DIRECTORY_CAPABILITY } from '../capabilities/user-directory.js'
import type { StorageWrite } from '../capabilities.js'
import type {
  MemoryCapabilityContext,
  MemoryCapabilityInstance,
  MemoryCapabilityModule,
  MemoryWriteOperation,
} from './memory-capability.js'
import { memoryEventsReader, replaceEventJson } from './memory-events.js'
import { createMemoryHomeserverData, type MemoryHomeserverData } from './memory-homeserver.js'
import { MemoryHomeserver } from './memory-homeserver-handle.js'
import {
  memoryRoomStateReader,
  memoryRoomStatsReader,
  upsertRoomStats,
} from './memory-room-state.js'
import {
  appendUndoLog,
  memoryUndoLogReader,
  pruneUndoLog,
  removeUndoLog,
} from './memory-undo-log.js'
import { memoryUserDirectoryReader, userDirectoryOperations } from './memory-user-directory.js'

/** An installed built-in capability: its reader, its operations and the homeserver it shares. */
export interface MemoryBuiltInInstance extends MemoryCapabilityInstance {
  /** Seeds and inspects the data the built-in capabilities of this adapter share. */
  readonly homeserver: MemoryHomeserver
}

type Part = (data: MemoryHomeserverData) => {
  readonly reader: unknown
  readonly operations: Readonly<Record<string, MemoryWriteOperation>>
}

const operation =
  (
    data: MemoryHomeserverData,
    apply: (
      data: MemoryHomeserverData,
      write: StorageWrite,
    ) => {
      skipped: readonly unknown[]
    },
  ): MemoryWriteOperation =>
  (write) =>
    apply(data, write)

const PARTS: ReadonlyArray<readonly [string, Part]> = [
  [
    EVENTS_CAPABILITY,
    (data) => ({
      reader: memoryEventsReader(data),
      operations: { [REPLACE_EVENT_JSON]: operation(data, replaceEventJson) },
    }),
  ],
  [ROOM_STATE_CAPABILITY, (data) => ({ reader: memoryRoomStateReader(data), operations: {} })],
  [
    ROOM_STATS_CAPABILITY,
    (data) => ({
      reader: memoryRoomStatsReader(data),
      operations: { [UPSERT_ROOM_STATS]: operation(data, upsertRoomStats) },
    }),
  ],
  [
    UNDO_LOG_CAPABILITY,
    (data) => ({
      reader: memoryUndoLogReader(data),
      operations: {
        [APPEND_UNDO_LOG]: operation(data, appendUndoLog),
        [REMOVE_UNDO_LOG]: operation(data, removeUndoLog),
        [PRUNE_UNDO_LOG]: operation(data, pruneUndoLog),
      },
    }),
  ],
  [
    USER_DIRECTORY_CAPABILITY,
    (data) => ({
      reader: memoryUserDirectoryReader(data),
      operations: userDirectoryOperations(data),
    }),
  ],
]

/**
 * The memory modules of the built-in capabilities (`events`, `room_state`, `room_stats`,
 * `undo_log`, `user_directory`), sharing one homeserver's data, for one adapter. A fresh set per
 * adapter: installing a set in two adapters throws.
 *
 * @example
 * ```ts
 * const storage = new MemoryStorageAdapter({ capabilities: memoryHomeserverCapabilities() })
 * ```
 */
export function memoryHomeserverCapabilities(): MemoryCapabilityModule<MemoryBuiltInInstance>[] {
  let shared: { context: MemoryCapabilityContext; data: MemoryHomeserverData } | undefined
  const dataFor = (context: MemoryCapabilityContext) => {
    shared ??= { context, data: createMemoryHomeserverData(context) }
    if (shared.context.now !== context.now) {
      throw new Error('A set of memory homeserver capabilities belongs to one adapter')
    }
    return shared.data
  }

  return PARTS.map(([name, part]) => ({
    name,
    install(context) {
      const data = dataFor(context)
      return { ...part(data), homeserver: new MemoryHomeserver(data) }
    },
  }))
}
