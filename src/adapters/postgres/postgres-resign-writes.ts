import {
  APPEND_UNDO_LOG,
  EVENTS_CAPABILITY,
  REPLACE_EVENT_JSON,
  type ReplaceEventJsonRow,
  type StorageWrite,
  UNDO_LOG_CAPABILITY,
  type UndoLogAppendRow,
} from 'matrix-background-updates'
import type { PostgresCapabilityContext } from './postgres-capability.js'
import { type PostgresQueryable, queryRows } from './postgres-driver.js'
import { insertUndoEntries } from './postgres-undo-log.js'

/**
 * The unit separator. Event texts that parse as JSON cannot hold it raw (JSON escapes control
 * characters inside strings and allows none outside them), and `JSON.stringify` never writes it,
 * so it can join the texts of a batch into one parameter that PostgreSQL splits again.
 */
const SEPARATOR = '\u001f'

/** The columns of one re-signed event, in the order of the statement's input. */
const COLUMNS = ['event_id', 'expected_json', 'json', 'server_name', 'removed', 'added_key_id']

/**
 * Whether `append` and `replace` are the pair event_resign writes for each part of a batch: an undo
 * entry for every replaced event, in the same order, under the same condition (the same expected
 * text), no event twice. Then appending and replacing is one statement instead of two, each
 * event's row is found and compared once, and the texts travel once.
 */
export function isResignPair(append: StorageWrite, replace: StorageWrite | undefined): boolean {
  if (
    replace === undefined ||
    append.capability !== UNDO_LOG_CAPABILITY ||
    append.op !== APPEND_UNDO_LOG ||
    replace.capability !== EVENTS_CAPABILITY ||
    replace.op !== REPLACE_EVENT_JSON ||
    append.rows.length !== replace.rows.length ||
    append.rows.length === 0
  ) {
    return false
  }
  const undo = append.rows as readonly UndoLogAppendRow[]
  const rows = replace.rows as readonly ReplaceEventJsonRow[]
  const ids = new Set<string>()
  return rows.every((row, index) => {
    const entry = undo[index] as UndoLogAppendRow
    if (ids.has(row.event_id)) return false
    ids.add(row.event_id)
    return entry.event_id === row.event_id && entry.expected_json === row.expected_json
  })
}

/** The statement's input as one joined text per column, or undefined when a value forbids it. */
function joinedColumns(values: readonly string[][]): string[] | undefined {
  for (const column of values) {
    for (const value of column) {
      // An empty value would make a one-row column an empty array.
      if (value === '' || value.includes(SEPARATOR)) return undefined
    }
  }
  return values.map((column) => column.join(SEPARATOR))
}

/**
 * Appends the undo entries and replaces the texts of a resign pair in one statement: the events
 * whose stored text is still the expected one are rewritten, and exactly those get an undo entry
 * (ids above the highest stored, in the order given). Resolves with the positions (0-based) of the
 * rows skipped, which are the same for both writes.
 */
export async function appendAndReplace(
  context: PostgresCapabilityContext,
  append: StorageWrite,
  replace: StorageWrite,
  client: PostgresQueryable,
): Promise<number[]> {
  const undo = append.rows as readonly UndoLogAppendRow[]
  const rows = replace.rows as readonly ReplaceEventJsonRow[]
  const values = [
    rows.map((row) => row.event_id),
    rows.map((row) => row.expected_json),
    rows.map((row) => row.json),
    undo.map((entry) => entry.server_name),
    undo.map((entry) => JSON.stringify(entry.removed_signatures)),
    undo.map((entry) => entry.added_key_id),
  ]
  const joined = joinedColumns(values)
  const input =
    joined === undefined
      ? `SELECT * FROM json_to_recordset($1::json) AS r(ord bigint, ${COLUMNS.map((name) => `${name} text`).join(', ')})`
      : `SELECT * FROM unnest(${COLUMNS.map((_, index) => `string_to_array($${index + 1}, E'\\x1f')`).join(', ')})
        WITH ORDINALITY AS r(${COLUMNS.join(', ')}, ord)`
  const parameters = joined ?? [
    // One JSON parameter, for a batch holding a value the separator cannot carry.
    JSON.stringify(
      rows.map((_, index) => {
        const row: Record<string, unknown> = { ord: index + 1 }
        COLUMNS.forEach((name, column) => {
          row[name] = values[column]?.[index]
        })
        return row
      }),
    ),
  ]

  const log = context.table('event_resign_undo_log')
  const sql = `WITH input AS (${input}), updated AS (
      UPDATE ${context.table('event_json')} AS j SET json = input.json FROM input
      WHERE j.event_id = input.event_id AND j.json = input.expected_json
      RETURNING j.event_id
    ), applied AS (
      SELECT input.* FROM input JOIN updated ON updated.event_id = input.event_id
    ), inserted AS (${insertUndoEntries(log, 'applied')})
    SELECT ord FROM applied`

  const applied = new Set(
    (await queryRows<{ ord: unknown }>(client, sql, parameters)).map((row) => Number(row.ord)),
  )
  return rows.flatMap((_, index) => (applied.has(index + 1) ? [] : [index]))
}
