import { type KeyProvider, loadCurrentKey, loadOldVerifyKeys } from '../adapters/key-provider.js'
import { decodeBase64, describeType } from '../matrix/base64.js'
import {
  encodeCanonicalJson,
  encodeCanonicalJsonBytes,
  type JsonObject,
} from '../matrix/canonical-json.js'
import { CanonicalJsonError } from '../matrix/errors.js'
import {
  contentHashBase64,
  eventIdFromSignedBytes,
  signedForm,
  withoutDerivedEventId,
} from '../matrix/event-hashes.js'
import {
  eventNeedsResigning,
  resignSignedBytes,
  senderServerName,
  verifySignedBytes,
} from '../matrix/event-signing.js'
import { isKeyId, type SigningKey, type VerifyKey } from '../matrix/keys.js'
import { isJsonObject, redactShallow } from '../matrix/redaction.js'
import {
  getRoomVersionRules,
  isKnownRoomVersion,
  type RoomVersionRules,
} from '../matrix/room-versions.js'
import { findSignature } from '../matrix/signing.js'

/**
 * Why an event was left as it was. A fixed set; each skipped outcome also has a `detail` sentence.
 *
 * - `not-ours`: the sender's server name is not ours.
 * - `already-current`: it already has our signature by the current key id.
 * - `old-key-mismatch`: an old key was given, and the event has no signature by that key id or that
 *   signature does not verify with that key.
 * - `unprovable`: its bytes cannot be shown to be the original ones, or writing it back would
 *   change more than our signatures (the safety rule; see {@link EventResigner}).
 * - `unknown-room-version`: its room version is not `"1"` to `"12"`.
 * - `malformed`: it is not an event: no JSON object, no `type` string, no `content` object, no
 *   `@user:server` sender, or `signatures` that are not objects of objects.
 */
export type ResignSkipReason =
  | 'not-ours'
  | 'already-current'
  | 'old-key-mismatch'
  | 'unprovable'
  | 'unknown-room-version'
  | 'malformed'

/** Every status an event can end a batch with. */
export type ResignStatus = 'resigned' | ResignSkipReason

/** An event as the store holds it. */
export interface StoredEvent {
  /** The event JSON as parsed from the store (Synapse's `event_json.json`). */
  readonly event: unknown
  /** The version of the event's room, `"1"` to `"12"`. */
  readonly roomVersion: string
  /**
   * The event ID the store files the event under. From room version 3 the recomputed ID must equal
   * it (or, without it, an `event_id` inside the JSON) for the event to be re-signed.
   */
  readonly eventId?: string | undefined
}

/** An event that was re-signed: write `event` back and keep `removedSignatures` to undo it. */
export interface ResignedOutcome {
  readonly status: 'resigned'
  /** The stored event ID, or else the `event_id` inside the JSON (always set from v3). */
  readonly eventId: string | undefined
  /** The new event: the old one with `signatures[serverName]` holding one signature, by `keyId`. */
  readonly event: JsonObject
  /** Our signatures the event had before, key id → value as stored; `{}` when it had none. */
  readonly removedSignatures: JsonObject
  /** The key id of the new signature. */
  readonly keyId: string
}

/** An event that was left alone, and why. */
export interface SkippedOutcome {
  readonly status: ResignSkipReason
  /** The stored event ID, or the `event_id` inside the JSON, when either exists. */
  readonly eventId: string | undefined
  /** One sentence on what was found; names fields and key ids, never content or key material. */
  readonly detail: string
}

/** What became of one event of a batch. */
export type ResignOutcome = ResignedOutcome | SkippedOutcome

/** How to build an {@link EventResigner}. */
export interface EventResignerOptions {
  /** Gives the current key (which signs) and the old verify keys (which prove v1/v2 events). */
  keyProvider: KeyProvider
  /** Our server name: only events whose sender is on it are re-signed. */
  serverName: string
  /**
   * How many events of a batch are in flight at once (default 16). It matters when signing is
   * asynchronous: WebCrypto's thread pool, a remote signer, or the worker threads of
   * `matrix-background-updates/sodium`; a synchronous signer runs one event after another anyway.
   * Raise it (to 64 or the batch size) in a maintenance window; 1 signs one event at a time.
   */
  concurrency?: number
}

/** Events of a batch in flight at once, unless the options say otherwise. */
export const DEFAULT_RESIGN_CONCURRENCY = 16

/** Options of one batch. */
export interface ResignBatchOptions {
  /**
   * The `old_key` filter: re-sign only events with a signature under this key's id that verifies
   * with this key over the redacted event.
   */
  oldKey?: VerifyKey | undefined
}

/** What one batch needs to decide each event. */
interface BatchContext {
  readonly currentKey: SigningKey
  readonly knownKeys: readonly VerifyKey[]
  readonly oldKey: VerifyKey | undefined
}

/**
 * Whether the bytes of an event are provable, or a sentence saying why not.
 *
 * @internal
 */
export type Proof = { readonly proven: true } | { readonly proven: false; readonly detail: string }

const PROVEN: Proof = { proven: true }

function unproven(detail: string): Proof {
  return { proven: false, detail }
}

function skip(
  status: ResignSkipReason,
  eventId: string | undefined,
  detail: string,
): SkippedOutcome {
  return { status, eventId, detail }
}

function jsonEventId(event: unknown): string | undefined {
  return isJsonObject(event) && typeof event.event_id === 'string' ? event.event_id : undefined
}

/**
 * What makes an event malformed, or undefined when it is well-formed enough to judge. Shared with
 * the revert.
 *
 * @internal
 */
export function findMalformation(event: unknown): string | undefined {
  if (!isJsonObject(event)) return `the event is ${describeType(event)}, not a JSON object`
  if (typeof event.type !== 'string') return '$.type is not a string'
  if (!isJsonObject(event.content)) return '$.content is not an object'
  if (senderServerName(event.sender) === undefined) return '$.sender is not a user ID'

  const signatures = event.signatures
  if (signatures === undefined) return undefined
  if (!isJsonObject(signatures)) return '$.signatures is not an object'
  const entities = Object.values(signatures)
  return entities.every(isJsonObject) ? undefined : '$.signatures holds a non-object entry'
}

function describeCanonicalFailure(error: unknown, what: string): string {
  if (error instanceof CanonicalJsonError) {
    return `${what} cannot be written as canonical JSON at ${error.path}`
  }
  throw error
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, index) => byte === b[index])
}

/**
 * Whether `hashes.sha256` is the content hash of the event as parsed. The stored text is compared
 * first; a hash stored in another base64 form (padded, URL-safe) is compared as bytes.
 */
function contentHashReproduces(event: JsonObject, rules: RoomVersionRules): boolean {
  const hashes = event.hashes
  if (!isJsonObject(hashes) || typeof hashes.sha256 !== 'string') return false
  try {
    const computed = contentHashBase64(withoutDerivedEventId(event, rules))
    if (hashes.sha256 === computed) return true
    return sameBytes(decodeBase64(hashes.sha256), decodeBase64(computed))
  } catch {
    return false
  }
}

/**
 * The canonical encodings of one parsed event, each made at most once however many checks need
 * it: the signed form serves the event ID, the `old_key` check, a v1/v2 proof and the new
 * signature; the content hash serves both halves of the safety rule. The event must not change
 * while this is in use, and nothing here changes it.
 *
 * @internal
 */
export class EventEncodings {
  readonly event: JsonObject
  readonly rules: RoomVersionRules
  #signedBytes: Uint8Array | undefined
  #contentHashMatches: boolean | undefined

  constructor(event: JsonObject, rules: RoomVersionRules) {
    this.event = event
    this.rules = rules
  }

  /**
   * The canonical bytes of the redacted event without `signatures` and `unsigned` (and, from v3,
   * `event_id`): what the reference hash and every signature of the event cover.
   *
   * @throws {CanonicalJsonError} when the redacted event cannot be written as canonical JSON.
   */
  signedBytes(): Uint8Array {
    this.#signedBytes ??= encodeCanonicalJsonBytes(signedForm(this.event, this.rules))
    return this.#signedBytes
  }

  /** Whether `hashes.sha256` is the content hash of the event as parsed. */
  contentHashReproduces(): boolean {
    this.#contentHashMatches ??= contentHashReproduces(this.event, this.rules)
    return this.#contentHashMatches
  }

  /** Whether `serverName`'s signature by `key` verifies; false when it cannot be checked. */
  async verifies(serverName: string, key: VerifyKey): Promise<boolean> {
    if (findSignature(this.event, serverName, key.keyId) === undefined) return false
    let signedBytes: Uint8Array
    try {
      signedBytes = this.signedBytes()
    } catch {
      return false
    }
    // A copy: a verify key may come from a host's KeyProvider, and the bytes are signed later.
    return verifySignedBytes(this.event, signedBytes.slice(), serverName, key)
  }
}

/**
 * Runs `task` over every item with at most `limit` in flight; results keep the items' order. After
 * a rejection no further item is started, and the first rejection is the result.
 */
async function mapInFlight<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  let failed = false
  const lane = async () => {
    while (next < items.length && !failed) {
      const index = next++
      try {
        results[index] = await task(items[index] as T)
      } catch (error) {
        failed = true
        throw error
      }
    }
  }

  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane))
  return results
}

/** Whether the event is stored in its redacted form, `signatures` and `unsigned` aside. */
function storedRedacted(event: JsonObject, rules: RoomVersionRules): boolean {
  const { signatures: _s, unsigned: _u, ...stored } = event
  const { signatures: _rs, unsigned: _ru, ...redacted } = redactShallow(event, rules)
  try {
    return encodeCanonicalJson(stored) === encodeCanonicalJson(redacted)
  } catch {
    return false
  }
}

/**
 * Re-signs stored events after a key rotation, deciding for each whether it may be: a pure
 * computation over a batch (DESIGN decision 7) that returns outcomes and new events as data for the
 * event_resign job to write.
 *
 * The safety rule (DESIGN decision 8). An event is re-signed only when
 * (a) the bytes to be signed are provably its original ones: from room version 3 the event ID
 * recomputed from the parsed event equals the stored one; in versions 1 and 2 the content hash
 * reproduces or our existing signature verifies with a key the KeyProvider knows; and
 * (b) writing the parsed event back changes nothing but our signatures: the content hash
 * reproduces, or the event is stored in its redacted form already (as Synapse stores events some
 * days after their redaction).
 * Integers beyond 2^53, floats and edited JSON thus end as `unprovable` instead of producing a
 * signature over other bytes.
 *
 * The resigner never throws for one event; it throws only when the key provider or the signer
 * fails, which fails the whole batch.
 *
 * @example
 * const resigner = new EventResigner({ keyProvider, serverName: 'example.org' })
 * const outcomes = await resigner.resign([{ event, roomVersion: '10', eventId: '$abc' }])
 */
export class EventResigner {
  readonly #keyProvider: KeyProvider
  readonly #serverName: string
  readonly #concurrency: number

  /**
   * @throws {TypeError} for a missing key provider or an empty server name.
   * @throws {RangeError} for a `concurrency` that is not a positive integer.
   */
  constructor(options: EventResignerOptions) {
    const provider = options?.keyProvider
    if (
      typeof provider?.currentKey !== 'function' ||
      typeof provider.oldVerifyKeys !== 'function'
    ) {
      throw new TypeError('keyProvider must have currentKey() and oldVerifyKeys()')
    }
    if (typeof options.serverName !== 'string' || options.serverName === '') {
      throw new TypeError('serverName must be a non-empty string')
    }
    const concurrency = options.concurrency ?? DEFAULT_RESIGN_CONCURRENCY
    if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
      throw new RangeError(`concurrency must be a positive integer, got ${String(concurrency)}`)
    }
    this.#keyProvider = provider
    this.#serverName = options.serverName
    this.#concurrency = concurrency
  }

  /** Our server name, whose events this resigner re-signs. */
  get serverName(): string {
    return this.#serverName
  }

  /**
   * Decides and re-signs a batch. Keys are asked of the provider once per batch, so a rotation
   * between batches takes effect at the next one.
   *
   * @returns one outcome per event, in the order given.
   * @throws {TypeError} when `events` is not an array or `oldKey` is not a verify key.
   * @throws {SignerError} when the key provider or the signer fails or gives something unusable.
   */
  async resign(
    events: readonly StoredEvent[],
    options: ResignBatchOptions = {},
  ): Promise<ResignOutcome[]> {
    if (!Array.isArray(events)) {
      throw new TypeError(`events must be an array, got ${describeType(events)}`)
    }
    const context = await this.#loadContext(options.oldKey)
    return mapInFlight(events, this.#concurrency, (stored) => this.#resignOne(stored, context))
  }

  async #loadContext(oldKey: VerifyKey | undefined): Promise<BatchContext> {
    if (oldKey !== undefined && (!isKeyId(oldKey?.keyId) || typeof oldKey.verify !== 'function')) {
      throw new TypeError('oldKey must be a VerifyKey')
    }
    const currentKey = await loadCurrentKey(this.#keyProvider)
    const oldKeys = await loadOldVerifyKeys(this.#keyProvider)
    return { currentKey, knownKeys: [currentKey.verifyKey, ...oldKeys], oldKey }
  }

  async #resignOne(stored: StoredEvent, context: BatchContext): Promise<ResignOutcome> {
    const given = typeof stored?.eventId === 'string' ? stored.eventId : undefined
    const eventId = given ?? jsonEventId(stored?.event)
    if (!isKnownRoomVersion(stored?.roomVersion)) {
      return skip('unknown-room-version', eventId, 'the room version is not "1" to "12"')
    }

    const malformation = findMalformation(stored.event)
    if (malformation !== undefined) return skip('malformed', eventId, malformation)
    const event = stored.event as JsonObject
    const encodings = new EventEncodings(event, getRoomVersionRules(stored.roomVersion))

    // Without old_key and from version 3, nothing before the signature waits for anything, so
    // each event runs through to its signing request without yielding: with signers on other
    // threads, the first requests leave while the rest of the batch is still being prepared.
    const filtered =
      this.#filter(encodings, eventId, context) ??
      (context.oldKey && (await this.#matchOldKey(encodings, eventId, context.oldKey)))
    if (filtered) return filtered

    const proof =
      encodings.rules.eventIdFormat === 'origin-chosen'
        ? await this.#prove(encodings, given, context)
        : proveDerivedSafetyRule(encodings, given)
    if (!proof.proven) return skip('unprovable', eventId, proof.detail)
    return this.#resignProven(encodings, eventId, context)
  }

  /** Not ours or already current; undefined when neither applies. */
  #filter(
    encodings: EventEncodings,
    eventId: string | undefined,
    context: BatchContext,
  ): SkippedOutcome | undefined {
    const event = encodings.event
    if (senderServerName(event.sender) !== this.#serverName) {
      return skip('not-ours', eventId, 'the sender is on another server')
    }
    if (!eventNeedsResigning(event, this.#serverName, context.currentKey.keyId)) {
      return skip('already-current', eventId, `signed by ${context.currentKey.keyId} already`)
    }
    return undefined
  }

  /** The `old_key` filter: a signature under its key id that verifies with it. */
  async #matchOldKey(
    encodings: EventEncodings,
    eventId: string | undefined,
    oldKey: VerifyKey,
  ): Promise<SkippedOutcome | undefined> {
    if (findSignature(encodings.event, this.#serverName, oldKey.keyId) === undefined) {
      return skip('old-key-mismatch', eventId, `no signature by ${oldKey.keyId}`)
    }
    if (await encodings.verifies(this.#serverName, oldKey)) return undefined
    return skip('old-key-mismatch', eventId, `the signature by ${oldKey.keyId} does not verify`)
  }

  #prove(
    encodings: EventEncodings,
    given: string | undefined,
    context: BatchContext,
  ): Promise<Proof> {
    const { event, rules } = encodings
    return proveSafetyRule(event, rules, given, context.knownKeys, this.#serverName, encodings)
  }

  /** Signs the very bytes the proof encoded: the signed form is encoded once per event. */
  async #resignProven(
    encodings: EventEncodings,
    eventId: string | undefined,
    context: BatchContext,
  ): Promise<ResignedOutcome> {
    const signingKey = context.currentKey
    const resigned = await resignSignedBytes(
      encodings.event,
      encodings.signedBytes(),
      this.#serverName,
      signingKey,
    )
    return {
      status: 'resigned',
      eventId,
      event: resigned,
      removedSignatures: removedSignaturesOf(encodings.event, this.#serverName),
      keyId: signingKey.keyId,
    }
  }
}

/**
 * The safety rule of {@link EventResigner}, (a) and (b), for a parsed event of a known room version:
 * whether its bytes are provably the original ones and writing it back changes nothing but our
 * signatures. `knownKeys` are the verify keys that may prove a version 1 or 2 event. Shared with the
 * revert, which writes events back under the same rule. `encodings` must be of this event under
 * these rules; the resigner passes its own so that the signature reuses the bytes proven here.
 *
 * @internal
 */
export async function proveSafetyRule(
  event: JsonObject,
  rules: RoomVersionRules,
  given: string | undefined,
  knownKeys: readonly VerifyKey[],
  serverName: string,
  encodings: EventEncodings = new EventEncodings(event, rules),
): Promise<Proof> {
  if (rules.eventIdFormat !== 'origin-chosen') return proveDerivedSafetyRule(encodings, given)

  const conflict = idConflict(event, given)
  if (conflict) return conflict
  const original = await proveOriginChosen(encodings, knownKeys, serverName)
  if (!original.proven) return original
  return proveWriteBack(encodings)
}

/** {@link proveSafetyRule} from version 3, where it needs no verification and so no waiting. */
function proveDerivedSafetyRule(encodings: EventEncodings, given: string | undefined): Proof {
  const conflict = idConflict(encodings.event, given)
  if (conflict) return conflict
  const original = proveDerivedId(encodings, given ?? jsonEventId(encodings.event))
  if (!original.proven) return original
  return proveWriteBack(encodings)
}

/** Unproven when the stored event ID and the `event_id` inside the JSON both exist and differ. */
function idConflict(event: JsonObject, given: string | undefined): Proof | undefined {
  const inside = jsonEventId(event)
  if (given === undefined || inside === undefined || given === inside) return undefined
  return unproven('the event_id inside the JSON differs from the stored event ID')
}

/** Versions 1 and 2: the content hash reproduces or our signature verifies with a known key. */
async function proveOriginChosen(
  encodings: EventEncodings,
  knownKeys: readonly VerifyKey[],
  serverName: string,
): Promise<Proof> {
  if (encodings.contentHashReproduces()) return PROVEN

  for (const key of knownKeys) {
    if (await encodings.verifies(serverName, key)) return PROVEN
  }
  return unproven('the content hash does not reproduce and no signature of ours verifies')
}

/** From version 3: the event ID recomputed from the parsed event equals the stored one. */
function proveDerivedId(encodings: EventEncodings, stored: string | undefined): Proof {
  if (stored === undefined) return unproven('no stored event ID to compare the recomputed one with')
  try {
    if (eventIdFromSignedBytes(encodings.signedBytes(), encodings.rules) === stored) return PROVEN
    return unproven('the recomputed event ID differs from the stored one')
  } catch (error) {
    return unproven(describeCanonicalFailure(error, 'the redacted event'))
  }
}

/** Writing back changes nothing but our signatures. */
function proveWriteBack(encodings: EventEncodings): Proof {
  const { event, rules } = encodings
  if (encodings.contentHashReproduces() || storedRedacted(event, rules)) return PROVEN
  try {
    encodeCanonicalJson(withoutDerivedEventId(event, rules))
  } catch (error) {
    return unproven(describeCanonicalFailure(error, 'the event'))
  }
  return unproven('the content hash does not reproduce and the event is not stored redacted')
}

function removedSignaturesOf(event: JsonObject, serverName: string): JsonObject {
  const signatures = event.signatures
  if (!isJsonObject(signatures) || !Object.hasOwn(signatures, serverName)) return {}
  return { ...(signatures[serverName] as JsonObject) }
}
