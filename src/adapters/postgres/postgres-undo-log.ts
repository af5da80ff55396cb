import {
  APPEND_UNDO_LOG,
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
import type {
  PostgresCapabilityContext,
  PostgresCapabilityInstance,
  PostgresCapabilityModule,
} from './postgres-capability.js'
import { type PostgresQueryable, queryRows } from './postgres-driver.js'
import { column, jsonObjectOrNull, safeInteger } from './postgres-rows.js'

const table = 'event_resign_undo_log'

interface UndoRow {
  readonly id: unknown
  readonly event_id: string
  readonly server_name: string
  readonly removed_signatures_json: string
  readonly added_key_id: string
}

function toEntry(row: UndoRow): UndoLogEntry {
  const id = safeInteger(row.id, table, 'id')
  const removed = jsonObjectOrNull(row.removed_signatures_json)
  if (removed === null) {
    throw new StoredRowError(table, `removed_signatures_json of entry ${id} is not a JSON object`)
  }

  return {
    id,
    event_id: row.event_id,
    server_name: row.server_name,
    removed_signatures: removed,
    added_key_id: row.added_key_id,
  }
}

function undoLogReader(context: PostgresCapabilityContext): UndoLogReader {
  const sql = `SELECT id, event_id, server_name, removed_signatures_json, added_key_id
    FROM ${context.table(table)} WHERE id > $1 ORDER BY id LIMIT $2`

  return {
    async page(afterId: number, limit: number, signal?: AbortSignal): Promise<UndoLogEntry[]> {
      return (await context.query<UndoRow>(sql, [afterId, limit], signal)).map(toEntry)
    },
  }
}

/** The row positions (1-based) a statement returned as applied, and the others as skipped. */
function skippedOf<T>(rows: readonly T[], applied: readonly { ord: unknown }[]): T[] {
  const done = new Set(applied.map((row) => Number(row.ord)))
  return rows.filter((_, index) => !done.has(index + 1))
}

/**
 * The `INSERT` of a statement that appends undo entries: the rows of `from` (with the columns
 * `ord`, `event_id`, `server_name`, `removed` and `added_key_id`) get ids above the highest stored,
 * in the order of `ord`. Shared with the resign pair's statement.
 */
export function insertUndoEntries(log: string, from: string): string {
  return `INSERT INTO ${log} (id, event_id, server_name, removed_signatures_json, added_key_id)
      SELECT (SELECT COALESCE(MAX(id), 0) FROM ${log}) + row_number() OVER (ORDER BY ord),
        event_id, server_name, removed, added_key_id
      FROM ${from}`
}

/**
 * One statement: the rows whose event text is still the expected one get ids above the highest
 * stored (`MAX(id) + 1` onwards, in the order given) and are inserted; their positions come back.
 */
async function append(
  context: PostgresCapabilityContext,
  write: StorageWrite,
  client: PostgresQueryable,
) {
  const log = context.table(table)
  const rows = write.rows as UndoLogAppendRow[]
  const sql = `WITH input AS (
      SELECT * FROM json_to_recordset($1::json) AS r(ord bigint, event_id text,
        expected_json text, server_name text, removed text, added_key_id text)
    ), applicable AS (
      SELECT input.* FROM input
      JOIN ${context.table('event_json')} AS j
        ON j.event_id = input.event_id AND j.json = input.expected_json
    ), inserted AS (${insertUndoEntries(log, 'applicable')})
    SELECT ord FROM applicable`
  // One JSON parameter rather than text arrays, for the reason replaceJson gives.
  const values = [
    JSON.stringify(
      rows.map((row, index) => ({
        ord: index + 1,
        event_id: row.event_id,
        expected_json: row.expected_json,
        server_name: row.server_name,
        removed: JSON.stringify(row.removed_signatures),
        added_key_id: row.added_key_id,
      })),
    ),
  ]

  return { skipped: skippedOf(rows, await queryRows<{ ord: unknown }>(client, sql, values)) }
}

/**
 * One statement: entries whose event text is still the expected one are deleted (if still there);
 * the positions of the rows whose condition held come back, the others are skipped.
 */
async function remove(
  context: PostgresCapabilityContext,
  write: StorageWrite,
  client: PostgresQueryable,
) {
  const rows = write.rows as UndoLogRemoveRow[]
  const sql = `WITH applicable AS (
      SELECT r.* FROM json_to_recordset($1::json)
        AS r(ord bigint, id bigint, event_id text, expected_json text)
      JOIN ${context.table('event_json')} AS j
        ON j.event_id = r.event_id AND j.json = r.expected_json
    ), removed AS (
      DELETE FROM ${context.table(table)} AS l USING applicable WHERE l.id = applicable.id
    )
    SELECT ord FROM applicable`
  // One JSON parameter rather than text arrays, for the reason replaceJson gives.
  const values = [
    JSON.stringify(
      rows.map(({ id, event_id, expected_json }, index) => ({
        ord: index + 1,
        id,
        event_id,
        expected_json,
      })),
    ),
  ]

  return { skipped: skippedOf(rows, await queryRows<{ ord: unknown }>(client, sql, values)) }
}

/** One statement: every entry of a row's server up to its id goes. Never skips. */
async function prune(
  context: PostgresCapabilityContext,
  write: StorageWrite,
  client: PostgresQueryable,
) {
  const rows = write.rows as UndoLogPruneRow[]
  await client.query(
    `DELETE FROM ${context.table(table)} AS l
     USING unnest($1::text[], $2::bigint[]) AS r(server_name, up_to_id)
     WHERE l.server_name = r.server_name AND l.id <= r.up_to_id`,
    [column(rows, 'server_name'), column(rows, 'up_to_id')],
  )

  return { skipped: [] }
}

/** The `undo_log` capability over `event_resign_undo_log`. */
export const postgresUndoLogCapability: PostgresCapabilityModule<
  PostgresCapabilityInstance<UndoLogReader>
> = {
  name: UNDO_LOG_CAPABILITY,
  install(context) {
    return {
      reader: undoLogReader(context),
      operations: {
        [APPEND_UNDO_LOG]: (write, client) => append(context, write, client),
        [REMOVE_UNDO_LOG]: (write, client) => remove(context, write, client),
        [PRUNE_UNDO_LOG]: (write, client) => prune(context, write, client),
      },
    }
  },
}
