import { decodeBase64, describeType, encodeBase64 } from './base64.js'
import { encodeCanonicalJsonBytes, type JsonObject } from './canonical-json.js'
import { KeyFormatError } from './errors.js'
import { computeContentHash, signedForm, withoutDerivedEventId } from './event-hashes.js'
import { assertSigningKey, isKeyId, type SigningKey, signWith, type VerifyKey } from './keys.js'
import { assertEventObject, isJsonObject } from './redaction.js'
import { getRoomVersionRules, type RoomVersionRules } from './room-versions.js'
import { findSignature, type Signatures } from './signing.js'

/** Where {@link resignEvent} gets its key and room version from. */
export interface ResignEventOptions {
  /** The room version identifier, `"1"` to `"12"`. */
  roomVersion: string
  /** Our server name: the entity whose signatures are replaced. */
  serverName: string
  /** The key that makes the new signature. */
  signingKey: SigningKey
}

function assertServerName(serverName: unknown): asserts serverName is string {
  if (typeof serverName !== 'string' || serverName === '') {
    throw new TypeError(`serverName must be a non-empty string, got ${describeType(serverName)}`)
  }
}

/** Sets one entity's signatures as an own data property, whatever the entity's name. */
function setEntity(signatures: Signatures, entity: string, byKey: Record<string, string>): void {
  if (entity !== '__proto__') {
    signatures[entity] = byKey
    return
  }
  Object.defineProperty(signatures, entity, {
    value: byKey,
    enumerable: true,
    writable: true,
    configurable: true,
  })
}

/**
 * `signatures` copied two levels deep, entries that are not objects left out. With `replace`, its
 * entity's entry is `replace.byKey` instead (in the old entry's place, or last), not a copy.
 */
function copySignatures(
  value: unknown,
  replace?: { readonly entity: string; readonly byKey: Record<string, string> },
): Signatures {
  const out: Signatures = {}
  let replaced = false
  if (isJsonObject(value)) {
    for (const entity of Object.keys(value)) {
      const byKey = value[entity]
      if (entity === replace?.entity) {
        setEntity(out, entity, replace.byKey)
        replaced = true
      } else if (isJsonObject(byKey)) {
        setEntity(out, entity, { ...byKey } as Record<string, string>)
      }
    }
  }
  if (replace !== undefined && !replaced) setEntity(out, replace.entity, replace.byKey)
  return out
}

/**
 * The server name of a user ID: everything after its first colon, so a port or an IPv6 literal
 * stays part of it (`@a:[::1]:8448` → `[::1]:8448`). Undefined for anything that is not `@…:…`.
 *
 * @example senderServerName('@alice:example.org:8448') // 'example.org:8448'
 */
export function senderServerName(sender: unknown): string | undefined {
  const start = serverNameStart(sender)
  return start < 0 ? undefined : (sender as string).slice(start)
}

/**
 * Where the server name of a user ID starts (after its first colon), or -1 for anything that is not
 * `@…:…`: {@link senderServerName} without cutting the name out.
 *
 * @internal
 */
export function serverNameStart(sender: unknown): number {
  if (typeof sender !== 'string' || !sender.startsWith('@')) return -1
  const colon = sender.indexOf(':')
  return colon < 0 || colon === sender.length - 1 ? -1 : colon + 1
}

/** `senderServerName(sender) === serverName`, without cutting the name out. @internal */
export function isSenderOn(sender: unknown, serverName: string): boolean {
  const start = serverNameStart(sender)
  return (
    start >= 0 &&
    (sender as string).length - start === serverName.length &&
    (sender as string).endsWith(serverName)
  )
}

/** Signs the signed form of an event under known rules; the bytes are checked to be a signature. */
async function signSignedForm(
  event: JsonObject,
  rules: RoomVersionRules,
  signingKey: SigningKey,
): Promise<string> {
  const message = encodeCanonicalJsonBytes(signedForm(event, rules))
  return encodeBase64(await signWith(signingKey, message))
}

/**
 * {@link resignEvent} for a caller that holds the canonical bytes of the event's signed form
 * already (`encodeCanonicalJsonBytes(signedForm(event, rules))`, computed from this very object),
 * so they are encoded once for the event ID check and the signature. Checks nothing else.
 * @internal
 */
export async function resignSignedBytes(
  event: JsonObject,
  signedBytes: Uint8Array,
  serverName: string,
  signingKey: SigningKey,
): Promise<JsonObject> {
  const signature = encodeBase64(await signWith(signingKey, signedBytes))
  return withOnlySignature(event, serverName, signingKey.keyId, signature)
}

/**
 * A shallow copy of the event whose `signatures[serverName]` holds only `signature` under `keyId`;
 * other servers' signatures are kept. For a signature made elsewhere (a worker thread) over the
 * event's signed form.
 * @internal
 */
export function withOnlySignature(
  event: JsonObject,
  serverName: string,
  keyId: string,
  signature: string,
): JsonObject {
  const byKey = { [keyId]: signature }
  const signatures = copySignatures(event.signatures, { entity: serverName, byKey })
  return { ...event, signatures }
}

/**
 * {@link verifyEventSignature} over the canonical bytes of the event's signed form, computed by
 * the caller from this very object. False for a missing, malformed or failing signature.
 * @internal
 */
export async function verifySignedBytes(
  event: JsonObject,
  signedBytes: Uint8Array,
  serverName: string,
  verifyKey: VerifyKey,
): Promise<boolean> {
  const encoded = findSignature(event, serverName, verifyKey?.keyId)
  if (encoded === undefined) return false
  try {
    const signature = decodeBase64(encoded)
    if (signature.length !== 64) return false
    return (await verifyKey.verify(signedBytes, signature)) === true
  } catch {
    return false
  }
}

/** The event with `hashes.sha256` set to its content hash; other hash algorithms are kept. */
function withContentHash(event: JsonObject, rules: RoomVersionRules): JsonObject {
  const sha256 = computeContentHash(withoutDerivedEventId(event, rules))
  const hashes = isJsonObject(event.hashes) ? { ...event.hashes, sha256 } : { sha256 }
  return { ...event, hashes }
}

/**
 * Hashes and signs an event as its origin server (specification, server-server API, "Signing
 * events"): `hashes.sha256` gets the content hash of the complete event, and our signature covers
 * the redacted event (without `signatures` and `unsigned`), so it survives redaction. In room
 * versions 3 and later an `event_id` key is left out of both, as the ID derives from the event.
 *
 * @param roomVersion the room version identifier, `"1"` to `"12"`.
 * @param serverName our server name, under which the signature is stored.
 * @returns a new event; other servers' signatures, our signatures by other keys and `unsigned` are
 *   kept. The input is not changed.
 * @throws {UnknownRoomVersionError} for a room version other than `"1"` to `"12"`.
 * @throws {TypeError} when `event` is not a JSON object or `serverName` is empty.
 * @throws {MalformedEventError} when `type` is not a string or `content` is not an object.
 * @throws {CanonicalJsonError} when the event cannot be written as canonical JSON.
 * @throws {SignerError} when the key is unusable, fails, or returns anything but 64 bytes.
 * @example const signed = await signEvent(pdu, '10', 'example.org', key)
 */
export async function signEvent<T extends object>(
  event: T,
  roomVersion: string,
  serverName: string,
  signingKey: SigningKey,
): Promise<T & { hashes: Record<string, string>; signatures: Signatures }> {
  const rules = getRoomVersionRules(roomVersion)
  assertEventObject(event)
  assertServerName(serverName)
  assertSigningKey(signingKey, 'signEvent')

  const hashed = withContentHash(event, rules)
  const signature = await signSignedForm(hashed, rules, signingKey)

  const signatures = copySignatures(event.signatures)
  const ours = Object.hasOwn(signatures, serverName) ? signatures[serverName] : undefined
  setEntity(signatures, serverName, { ...ours, [signingKey.keyId]: signature })
  return { ...hashed, signatures } as unknown as T & {
    hashes: Record<string, string>
    signatures: Signatures
  }
}

/**
 * Checks the signature of `serverName` by `verifyKey` on an event. The signature covers the
 * redacted event, so a change that redaction removes (an edited message body, `unsigned`) does not
 * fail it; the content hash is what guards the rest.
 *
 * @param roomVersion the room version identifier, `"1"` to `"12"`.
 * @returns a Promise of true when the signature verifies; of false when it is missing, not base64,
 *   not 64 bytes or does not verify, or when the redacted event cannot be canonically encoded or
 *   lacks a `type` string or `content` object.
 * @throws {UnknownRoomVersionError} (as a rejection) for a room version other than `"1"` to `"12"`.
 * @throws {TypeError} (as a rejection) when `event` is not a JSON object.
 */
export async function verifyEventSignature(
  event: object,
  roomVersion: string,
  serverName: string,
  verifyKey: VerifyKey,
): Promise<boolean> {
  const rules = getRoomVersionRules(roomVersion)
  assertEventObject(event)
  const encoded = findSignature(event, serverName, verifyKey?.keyId)
  if (encoded === undefined) return false

  try {
    const signature = decodeBase64(encoded)
    if (signature.length !== 64) return false
    const message = encodeCanonicalJsonBytes(signedForm(event, rules))
    return (await verifyKey.verify(message, signature)) === true
  } catch {
    return false
  }
}

function keyIdOf(signingKeyOrKeyId: SigningKey | VerifyKey | string): string {
  const keyId = typeof signingKeyOrKeyId === 'string' ? signingKeyOrKeyId : signingKeyOrKeyId?.keyId
  if (!isKeyId(keyId)) {
    throw new KeyFormatError('a key id must be written as "ed25519:<version>"')
  }
  return keyId
}

/**
 * Whether an event is ours and lacks a signature by the current key, as Synapse's event_resign job
 * decides: true only when the sender's server name (everything after the first `:` of the user ID)
 * equals `serverName` and `signatures[serverName]` holds no signature under the key's id.
 *
 * @param signingKeyOrKeyId the current signing key, its verify key, or its key id
 *   `ed25519:<version>`.
 * @throws {TypeError} when `event` is not a JSON object.
 * @throws {KeyFormatError} when the key id is not of the form `ed25519:<version>`.
 * @example eventNeedsResigning(event, 'example.org', 'ed25519:b') // true when signed by a only
 */
export function eventNeedsResigning(
  event: object,
  serverName: string,
  signingKeyOrKeyId: SigningKey | VerifyKey | string,
): boolean {
  assertEventObject(event)
  const keyId = keyIdOf(signingKeyOrKeyId)
  if (!isSenderOn(event.sender, serverName)) return false
  return findSignature(event, serverName, keyId) === undefined
}

/**
 * Re-signs an event after a key rotation: every signature of `serverName` is replaced by one
 * signature by `signingKey` over the same redacted event. Nothing else changes: other servers'
 * signatures, `hashes`, `unsigned`, `content` and any stored `event_id` stay as they were, so the
 * content hash and the event ID do too.
 *
 * Only re-sign events whose bytes are known to be the original ones; {@link EventResigner} checks
 * that before it calls this.
 *
 * @returns a new event; the input is not changed.
 * @throws {UnknownRoomVersionError} for a room version other than `"1"` to `"12"`.
 * @throws {TypeError} when `event` is not a JSON object or `serverName` is empty.
 * @throws {MalformedEventError} when `type` is not a string or `content` is not an object.
 * @throws {CanonicalJsonError} when the redacted event cannot be written as canonical JSON.
 * @throws {SignerError} when the key is unusable, fails, or returns anything but 64 bytes.
 * @example
 * const options = { roomVersion: '10', serverName: 'example.org', signingKey }
 * const resigned = await resignEvent(stored, options)
 */
export async function resignEvent<T extends object>(
  event: T,
  options: ResignEventOptions,
): Promise<T & { signatures: Signatures }> {
  const rules = getRoomVersionRules(options?.roomVersion)
  assertEventObject(event)
  assertServerName(options.serverName)
  assertSigningKey(options.signingKey, 'resignEvent')

  const signedBytes = encodeCanonicalJsonBytes(signedForm(event, rules))
  const resigned = await resignSignedBytes(
    event,
    signedBytes,
    options.serverName,
    options.signingKey,
  )
  return resigned as unknown as T & { signatures: Signatures }
}
