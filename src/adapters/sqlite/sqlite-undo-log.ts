import {
  APPEND_UNDO_LOG,
  type JsonObject,
  PRUNE_UNDO_LOG,
  REMOVE_UNDO_LOG,
  type StorageWrite,
  StoredRowError,
  UNDO_LOG_CAPABILITY,
  type UndoLogAppendRow,
  type UndoLogEntry,
  type UndoLogPruneRow,
  type UndoLogReader,
  type UndoLogRemoveRow,
} from 'matrix-background-updates'
import {
  type SqliteCapabilityContext,
  type SqliteCapabilityInstance,
  type SqliteCapabilityModule,
  throwIfAborted,
} from './sqlite-capability.js'

interface UndoRow {
  readonly id: number
  readonly event_id: string
  readonly server_name: string
  readonly removed_signatures_json: string
  readonly added_key_id: string
}

function toEntry(row: UndoRow): UndoLogEntry {
  let removed: unknown
  try {
    removed = JSON.parse(row.removed_signatures_json)
  } catch {
    removed = undefined
  }
  if (typeof removed !== 'object' || removed === null || Array.isArray(removed)) {
    throw new StoredRowError(
      'event_resign_undo_log',
      `removed_signatures_json of entry ${row.id} is not a JSON object`,
    )
  }

  return {
    id: row.id,
    event_id: row.event_id,
    server_name: row.server_name,
    removed_signatures: removed as JsonObject,
    added_key_id: row.added_key_id,
  }
}

function undoLogReader(context: SqliteCapabilityContext): UndoLogReader {
  const sql = `SELECT id, event_id, server_name, removed_signatures_json, added_key_id
    FROM ${context.table('event_resign_undo_log')} WHERE id > ? ORDER BY id LIMIT ?`

  return {
    async page(afterId: number, limit: number, signal?: AbortSignal): Promise<UndoLogEntry[]> {
      await context.open()
      throwIfAborted(signal)
      return (context.statement(sql).all(afterId, limit) as UndoRow[]).map(toEntry)
    },
  }
}

function append(context: SqliteCapabilityContext, write: StorageWrite) {
  const log = context.table('event_resign_undo_log')
  const unchanged = unchangedStatement(context)
  const lastId = context.statement(`SELECT MAX(id) AS id FROM ${log}`)
  const insert = context.statement(
    `INSERT INTO ${log} (id, event_id, server_name, removed_signatures_json, added_key_id)
     VALUES (?, ?, ?, ?, ?)`,
  )
  let id = ((lastId.get() as { id: number | null }).id ?? 0) + 1
  const skipped: UndoLogAppendRow[] = []
  for (const row of write.rows as UndoLogAppendRow[]) {
    if (unchanged.get(row.event_id, row.expected_json) === undefined) {
      skipped.push(row)
      continue
    }
    const removed = JSON.stringify(row.removed_signatures)
    insert.run(id++, row.event_id, row.server_name, removed, row.added_key_id)
  }

  return { skipped }
}

function unchangedStatement(context: SqliteCapabilityContext) {
  return context.statement(
    `SELECT 1 AS unchanged FROM ${context.table('event_json')} WHERE event_id = ? AND json = ?`,
  )
}

function remove(context: SqliteCapabilityContext, write: StorageWrite) {
  const unchanged = unchangedStatement(context)
  const drop = context.statement(
    `DELETE FROM ${context.table('event_resign_undo_log')} WHERE id = ?`,
  )
  const skipped: UndoLogRemoveRow[] = []
  for (const row of write.rows as UndoLogRemoveRow[]) {
    if (unchanged.get(row.event_id, row.expected_json) === undefined) {
      skipped.push(row)
      continue
    }
    drop.run(row.id)
  }

  return { skipped }
}

function prune(context: SqliteCapabilityContext, write: StorageWrite) {
  const drop = context.statement(
    `DELETE FROM ${context.table('event_resign_undo_log')} WHERE server_name = ? AND id <= ?`,
  )
  for (const row of write.rows as UndoLogPruneRow[]) drop.run(row.server_name, row.up_to_id)

  return { skipped: [] }
}

/** The `undo_log` capability over `event_resign_undo_log`. */
export const sqliteUndoLogCapability: SqliteCapabilityModule<
  SqliteCapabilityInstance<UndoLogReader>
> = {
  name: UNDO_LOG_CAPABILITY,
  install(context) {
    return {
      reader: undoLogReader(context),
      operations: {
        [APPEND_UNDO_LOG]: (write) => append(context, write),
        [REMOVE_UNDO_LOG]: (write) => remove(context, write),
        [PRUNE_UNDO_LOG]: (write) => prune(context, write),
      },
    }
  },
}
