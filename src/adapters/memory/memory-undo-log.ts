import type {
  UndoLogAppendRow,
  UndoLogEntry,
  UndoLogPruneRow,
  UndoLogReader,
  UndoLogRemoveRow,
} from '../capabilities/undo-log.js'
import type { StorageWrite } from '../capabilities.js'
import type { MemoryHomeserverData } from './memory-homeserver.js'

/** The `undo_log` reader over a memory homeserver. */
export function memoryUndoLogReader(data: MemoryHomeserverData): UndoLogReader {
  const entries = () => [...data.undoLog.values()].sort((a, b) => a.id - b.id)

  return {
    async page(afterId: number, limit: number): Promise<UndoLogEntry[]> {
      return entries()
        .filter((entry) => entry.id > afterId)
        .slice(0, limit)
        .map((entry) => structuredClone(entry))
    },
  }
}

/** The `undo_log` write `append`: appends each row whose event still has the expected text. */
export function appendUndoLog(data: MemoryHomeserverData, write: StorageWrite) {
  const skipped: UndoLogAppendRow[] = []
  for (const row of write.rows as UndoLogAppendRow[]) {
    if (data.events.get(row.event_id)?.json !== row.expected_json) {
      skipped.push(row)
      continue
    }

    const id = highestId(data) + 1
    data.undoLog.set(id, {
      id,
      event_id: row.event_id,
      server_name: row.server_name,
      removed_signatures: structuredClone(row.removed_signatures),
      added_key_id: row.added_key_id,
    })
  }

  return { skipped }
}

/** The `undo_log` write `remove`: deletes each entry whose event still has the expected text. */
export function removeUndoLog(data: MemoryHomeserverData, write: StorageWrite) {
  const skipped: UndoLogRemoveRow[] = []
  for (const row of write.rows as UndoLogRemoveRow[]) {
    if (data.events.get(row.event_id)?.json !== row.expected_json) {
      skipped.push(row)
      continue
    }

    data.undoLog.delete(row.id)
  }

  return { skipped }
}

/** The `undo_log` write `prune`: deletes a server's entries up to an id. */
export function pruneUndoLog(data: MemoryHomeserverData, write: StorageWrite) {
  for (const row of write.rows as UndoLogPruneRow[]) {
    const doomed = [...data.undoLog.values()].filter(
      (entry) => entry.server_name === row.server_name && entry.id <= row.up_to_id,
    )
    for (const entry of doomed) data.undoLog.delete(entry.id)
  }

  return { skipped: [] }
}

/** The highest id stored, or 0: ids follow it, as SQL's `MAX(id) + 1` does. */
function highestId(data: MemoryHomeserverData): number {
  let highest = 0
  for (const [id] of data.undoLog.entries()) highest = Math.max(highest, id)
  return highest
}
