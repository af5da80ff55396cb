import type { EventRow } from '../adapters/capabilities/events.js'
import type { UndoLogEntry } from '../adapters/capabilities/undo-log.js'
import type { JsonObject } from '../matrix/canonical-json.js'
import type { VerifyKey } from '../matrix/keys.js'
import { isJsonObject } from '../matrix/redaction.js'
import { getRoomVersionRules, isKnownRoomVersion } from '../matrix/room-versions.js'
import { findMalformation, proveSafetyRule } from './event-resigner.js'

/**
 * Why an undo log entry was left in the log and its event as it was.
 *
 * - `not-ours`: the entry belongs to another server name.
 * - `missing`: the event is no longer stored.
 * - `rejected`: the event is stored as rejected.
 * - `malformed`: the stored text does not parse to an event, or the entry's signatures are not
 *   strings.
 * - `unknown-room-version`: the room version is not `"1"` to `"12"`.
 * - `key-absent`: the event no longer carries a signature of ours by the key the entry added: it was
 *   re-signed again since (a later entry undoes that first), or the host changed its signatures.
 * - `unprovable`: the safety rule fails, so writing the event back could change more than our
 *   signatures.
 */
export type RevertSkipReason =
  | 'not-ours'
  | 'missing'
  | 'rejected'
  | 'malformed'
  | 'unknown-room-version'
  | 'key-absent'
  | 'unprovable'

/** What the revert decided for one entry. */
export type RevertDecision =
  | { readonly status: 'reverted'; readonly json: string }
  | { readonly status: RevertSkipReason; readonly detail: string }

/** What deciding an entry needs besides the entry and its event. */
export interface RevertContext {
  /** Our server name. */
  readonly serverName: string

  /** The current and old verify keys, which may prove the bytes of a version 1 or 2 event. */
  readonly knownKeys: readonly VerifyKey[]
}

function skip(status: RevertSkipReason, detail: string): RevertDecision {
  return { status, detail }
}

/**
 * Decides one undo log entry: the event's new text, with the signature the re-sign added removed and
 * the signatures it removed put back, or why the entry must stay. Other servers' signatures, the
 * content, the hashes and the event ID are never changed, and an event is written back only under
 * the re-signer's safety rule. Never throws for a bad entry or event.
 */
export async function decideRevert(
  entry: UndoLogEntry,
  row: EventRow | undefined,
  context: RevertContext,
): Promise<RevertDecision> {
  if (entry.server_name !== context.serverName) return skip('not-ours', 'another server name')
  if (row === undefined) return skip('missing', 'the event is no longer stored')
  if (row.rejected) return skip('rejected', 'the event is stored as rejected')
  if (!isKnownRoomVersion(row.room_version)) {
    return skip('unknown-room-version', 'the room version is not "1" to "12"')
  }
  if (!areSignatures(entry.removed_signatures)) {
    return skip('malformed', 'the entry holds signatures that are not strings')
  }

  const event = parseEvent(row.json)
  if (typeof event === 'string') return skip('malformed', event)
  return decideParsed(entry, row, event, context)
}

async function decideParsed(
  entry: UndoLogEntry,
  row: EventRow,
  event: JsonObject,
  context: RevertContext,
): Promise<RevertDecision> {
  const ours = (event.signatures as Record<string, JsonObject> | undefined)?.[context.serverName]
  if (ours === undefined || !Object.hasOwn(ours, entry.added_key_id)) {
    return skip('key-absent', `no signature of ours by ${entry.added_key_id}`)
  }

  const rules = getRoomVersionRules(row.room_version as string)
  const proof = await proveSafetyRule(
    event,
    rules,
    row.event_id,
    context.knownKeys,
    context.serverName,
  )
  if (!proof.proven) return skip('unprovable', proof.detail)

  return { status: 'reverted', json: JSON.stringify(revertedEvent(entry, event, ours, context)) }
}

/** The parsed event, or a sentence saying why it is not one. */
function parseEvent(json: string): JsonObject | string {
  let event: unknown
  try {
    event = JSON.parse(json)
  } catch {
    return 'the stored text is not JSON'
  }

  return findMalformation(event) ?? (event as JsonObject)
}

function areSignatures(value: unknown): boolean {
  return isJsonObject(value) && Object.values(value).every((item) => typeof item === 'string')
}

/** The event with our signatures as they were before the re-sign; key order is kept. */
function revertedEvent(
  entry: UndoLogEntry,
  event: JsonObject,
  ours: JsonObject,
  context: RevertContext,
): JsonObject {
  const { [entry.added_key_id]: _added, ...kept } = ours
  const restored = { ...kept, ...entry.removed_signatures }
  const signatures = { ...(event.signatures as JsonObject) }
  if (Object.keys(restored).length === 0) delete signatures[context.serverName]
  else signatures[context.serverName] = restored

  return { ...event, signatures }
}
