import { encodeCanonicalJson, encodeCanonicalJsonBytes, type JsonObject } from './canonical-json.js'
import { sha256Base64 } from './crypto/backend.js'
import { EventIdNotDerivedError } from './errors.js'
import { assertEventObject, redactShallow } from './redaction.js'
import { getRoomVersionRules, type RoomVersionRules } from './room-versions.js'

/**
 * The event without an `event_id` key where the room version derives event IDs (from version 3).
 * There the ID is not part of the event as sent and signed, but hosts may store it inside the JSON.
 * @internal
 */
export function withoutDerivedEventId(event: JsonObject, rules: RoomVersionRules): JsonObject {
  if (rules.eventIdFormat === 'origin-chosen' || !Object.hasOwn(event, 'event_id')) return event
  const { event_id: _eventId, ...rest } = event
  return rest
}

/** What the content hash covers: the event without `unsigned`, `signatures` and `hashes`. */
function contentHashForm(event: JsonObject): JsonObject {
  const { unsigned: _unsigned, signatures: _signatures, hashes: _hashes, ...rest } = event
  return rest
}

/**
 * What signatures and the reference hash cover: the redacted event without `signatures` and
 * `unsigned`, and from version 3 without `event_id`.
 * @internal
 */
export function signedForm(event: JsonObject, rules: RoomVersionRules): JsonObject {
  const redacted = withoutDerivedEventId(redactShallow(event, rules), rules)
  const { signatures: _signatures, unsigned: _unsigned, ...rest } = redacted
  return rest
}

/**
 * Computes the content hash of an event (specification, server-server API, "Calculating the content
 * hash for an event"): SHA-256 over the canonical JSON of the complete, unredacted event without
 * `unsigned`, `signatures` and `hashes`. This is what `hashes.sha256` holds.
 *
 * Everything else counts, an `event_id` key included. {@link signEvent} leaves out the `event_id`
 * that hosts may store in events of version 3 and later, because such events are hashed without it.
 *
 * @returns the hash in unpadded standard base64.
 * @throws {TypeError} when `event` is not a JSON object.
 * @throws {CanonicalJsonError} when the event holds a float, an integer beyond ±(2^53 − 1) or other
 *   data that canonical JSON cannot express.
 * @example computeContentHash({ type: 'X', content: {} }) // unpadded base64 of 32 bytes
 */
export function computeContentHash(event: object): string {
  assertEventObject(event)
  return contentHashBase64(event)
}

/** The content hash in unpadded standard base64, as `hashes.sha256` holds it. @internal */
export function contentHashBase64(event: JsonObject): string {
  return sha256Base64(encodeCanonicalJson(contentHashForm(event)), false)
}

/** The reference hash under resolved rules, in the alphabet of the room version. */
function referenceHashUnder(event: JsonObject, rules: RoomVersionRules): string {
  const urlSafe = rules.eventIdFormat === 'url-safe-reference-hash'
  return sha256Base64(encodeCanonicalJson(signedForm(event, rules)), urlSafe)
}

/**
 * Computes the reference hash of an event (specification, server-server API, "Calculating the
 * reference hash for an event"): SHA-256 over the canonical JSON of the redacted event without
 * `signatures` and `unsigned`; from room version 3 an `event_id` key is left out too, since the ID
 * is derived from this very hash.
 *
 * @param roomVersion the room version identifier, `"1"` to `"12"`.
 * @returns unpadded base64: the URL-safe alphabet from room version 4, the standard one before.
 * @throws {UnknownRoomVersionError} for a room version other than `"1"` to `"12"`.
 * @throws {TypeError} when `event` is not a JSON object.
 * @throws {MalformedEventError} when `type` is not a string or `content` is not an object.
 * @throws {CanonicalJsonError} when the redacted event cannot be written as canonical JSON.
 */
export function computeEventReferenceHash(event: object, roomVersion: string): string {
  const rules = getRoomVersionRules(roomVersion)
  assertEventObject(event)
  return referenceHashUnder(event, rules)
}

/** The event ID under already resolved rules. @internal */
export function eventIdUnder(event: JsonObject, rules: RoomVersionRules): string {
  if (rules.eventIdFormat === 'origin-chosen') throw new EventIdNotDerivedError(rules.identifier)
  return eventIdFromSignedBytes(encodeCanonicalJsonBytes(signedForm(event, rules)), rules)
}

/**
 * The event ID from the canonical bytes of {@link signedForm}, which an event's signatures cover
 * too: a caller that signs or verifies the same event encodes it once for both.
 * @internal
 */
export function eventIdFromSignedBytes(signedBytes: Uint8Array, rules: RoomVersionRules): string {
  if (rules.eventIdFormat === 'origin-chosen') throw new EventIdNotDerivedError(rules.identifier)
  return `$${sha256Base64(signedBytes, rules.eventIdFormat === 'url-safe-reference-hash')}`
}

/**
 * Computes the event ID of an event in room version 3 or later: `$` followed by its reference hash,
 * in standard base64 in version 3 and URL-safe base64 from version 4.
 *
 * @param roomVersion the room version identifier, `"3"` to `"12"`.
 * @throws {EventIdNotDerivedError} in room versions 1 and 2, where the origin server chose them.
 * @throws {UnknownRoomVersionError} for a room version other than `"1"` to `"12"`.
 * @throws {TypeError} when `event` is not a JSON object.
 * @throws {MalformedEventError} when `type` is not a string or `content` is not an object.
 * @throws {CanonicalJsonError} when the redacted event cannot be written as canonical JSON.
 * @example computeEventId(pdu, '10') // '$zRz9jjiT9wZc3Hl9ij_74aCmTjqV3YMlj9sj3Uqxg6o' for one PDU
 */
export function computeEventId(event: object, roomVersion: string): string {
  const rules = getRoomVersionRules(roomVersion)
  assertEventObject(event)
  return eventIdUnder(event, rules)
}
