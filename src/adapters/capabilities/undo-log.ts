/**
 * The `undo_log` capability: for every event `event_resign` re-signed, the signatures of ours it
 * removed, so that a re-sign can be reverted. Append-only.
 *
 * **Write `append`** ({@link UndoLogAppendRow}): for each row, appends one entry **only if** the
 * stored JSON text of `event_id` (the `events` capability's `json`) equals `expected_json` exactly
 * at that point of the transaction; otherwise the row is skipped and reported. `expected_json` is
 * not stored. The job writes `append` before `events.replace_json` with the same expected text, so
 * in one transaction both apply or both are skipped: the log holds an entry for exactly the events
 * rewritten. Each entry gets an `id` greater than every entry stored at that moment (a sequence;
 * after a `prune` an adapter may hand out ids again above the highest one left, as SQL's
 * `MAX(id) + 1` does).
 *
 * **Write `remove`** ({@link UndoLogRemoveRow}), used by `event_resign_revert`: for each row,
 * deletes the entry `id` **only if** the stored JSON text of `event_id` equals `expected_json`
 * exactly at that point of the transaction (the condition of `append`); otherwise nothing is deleted
 * and the row is reported as skipped, as given. When the condition holds but no entry `id` is stored
 * (pruned meanwhile), nothing is deleted and the row is not skipped. The job writes `remove` before
 * `events.replace_json` with the same expected text, so both apply or both are skipped: an entry
 * leaves the log exactly when its event gets its old signatures back, and the log keeps holding
 * the re-signs still in effect.
 *
 * **Write `prune`** ({@link UndoLogPruneRow}), used by `undo_log_prune`: for each row, deletes every
 * entry whose `server_name` equals the row's and whose `id` is at most `up_to_id`
 * (`DELETE … WHERE server_name = $server AND id <= $up_to_id`). Unconditional: it never skips a row.
 *
 * @module
 */
import type { JsonObject } from '../../matrix/canonical-json.js'

/** What the job gives for one re-signed event. */
export interface UndoLogAppendRow {
  /** The re-signed event. */
  readonly event_id: string

  /** The event's stored text before the re-sign: the entry is appended only if it still is. */
  readonly expected_json: string

  /** Our server name: the entity whose signatures changed. */
  readonly server_name: string

  /** Our signatures the event had before, key id to the value as stored; `{}` for none. */
  readonly removed_signatures: JsonObject

  /** The key id of the signature that replaced them. */
  readonly added_key_id: string
}

/** One stored entry of the undo log. */
export interface UndoLogEntry {
  /** The entry's sequence number. */
  readonly id: number

  readonly event_id: string
  readonly server_name: string
  readonly removed_signatures: JsonObject
  readonly added_key_id: string
}

/** The read side of the `undo_log` capability. */
export interface UndoLogReader {
  /** Entries with an `id` greater than `afterId`, ascending, at most `limit`. */
  page(afterId: number, limit: number, signal?: AbortSignal): Promise<UndoLogEntry[]>
}

/** A row of the `undo_log` write `remove`: applied only if the event's text is `expected_json`. */
export interface UndoLogRemoveRow {
  /** The entry to delete. */
  readonly id: number

  /** The event the entry belongs to. */
  readonly event_id: string

  /** The event's stored text as it was read; the row is skipped when the stored text differs. */
  readonly expected_json: string
}

/** A row of the `undo_log` write `prune`: deletes a server's entries up to an id. */
export interface UndoLogPruneRow {
  /** The server whose entries go. */
  readonly server_name: string

  /** Every entry of that server with an `id` at most this goes; a safe integer. */
  readonly up_to_id: number
}

/** The name of the capability. */
export const UNDO_LOG_CAPABILITY = 'undo_log'

/** The operation that appends entries on condition. */
export const APPEND_UNDO_LOG = 'append'

/** The operation that removes reverted entries on condition. */
export const REMOVE_UNDO_LOG = 'remove'

/** The operation that deletes a server's entries up to an id, once a rotation is final. */
export const PRUNE_UNDO_LOG = 'prune'
