import { type KeyProvider, loadCurrentKey, loadOldVerifyKeys } from '../adapters/key-provider.js'
import { decodeBase64, describeType } from '../matrix/base64.js'
import { type EventFormBytes, encodeEventFormBytes } from '../matrix/canonical-bytes.js'
import {
  encodeCanonicalJson,
  encodeCanonicalJsonBytes,
  type JsonObject,
} from '../matrix/canonical-json.js'
import { sha256Base64, signatureBase64 } from '../matrix/crypto/backend.js'
import { CanonicalJsonError, SignerError } from '../matrix/errors.js'
import {
  contentHashBase64,
  eventIdFromSignedBytes,
  signedForm,
  withoutDerivedEventId,
} from '../matrix/event-hashes.js'
import {
  isSenderOn,
  serverNameStart,
  verifySignedBytes,
  withOnlySignature,
} from '../matrix/event-signing.js'
import {
  Ed25519SigningKey,
  isKeyId,
  type SigningKey,
  signWithNow,
  type VerifyKey,
} from '../matrix/keys.js'
import { isJsonObject, redactShallow } from '../matrix/redaction.js'
import {
  getRoomVersionRules,
  isKnownRoomVersion,
  type RoomVersionRules,
} from '../matrix/room-versions.js'
import { findSignature } from '../matrix/signing.js'
import type {
  OffloadedKeys,
  OffloadedOutcome,
  ResignOffload,
  StoredEventText,
} from './resign-offload.js'

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

/** A stored event that was re-signed: write `json` back and keep `removedSignatures` to undo it. */
export interface ResignedTextOutcome {
  readonly status: 'resigned'
  /** The stored event ID, or else the `event_id` inside the JSON (always set from v3). */
  readonly eventId: string | undefined
  /** The new event as JSON text (`JSON.stringify` of the re-signed event). */
  readonly json: string
  /** Our signatures the event had before, key id → value as stored; `{}` when it had none. */
  readonly removedSignatures: JsonObject
  /** The key id of the new signature. */
  readonly keyId: string
}

/** What became of one stored text; a text that is not JSON is `malformed`. */
export type ResignTextOutcome = ResignedTextOutcome | SkippedOutcome

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
  /**
   * Where batches are decided and signed instead of the calling thread: `resignWorkers()` of
   * `matrix-background-updates/node` runs this same pipeline on worker threads, so that re-signing
   * uses more than one core and the event loop stays free. (For parsed events without `old_key`,
   * an offload with `signBatch`, as that one has, only signs: this thread decides.) It needs the
   * current key to be an `Ed25519SigningKey` (its seed is copied to the workers); with any other
   * key (a remote signer, `sodiumWorkerSigningKey`) batches are decided here, as without it. See
   * docs/performance.md.
   */
  offload?: ResignOffload | undefined
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
  /** The same keys as bytes, when the batch goes to the offload. */
  readonly offloaded: OffloadedKeys | undefined
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

const NOT_JSON = 'the stored text is not JSON'

/** Whether a maybe-synchronous step answered later. */
function isPending<T>(value: T | Promise<T>): value is Promise<T> {
  return value instanceof Promise
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
  if (serverNameStart(event.sender) < 0) return '$.sender is not a user ID'

  const signatures = event.signatures
  if (signatures === undefined) return undefined
  if (!isJsonObject(signatures)) return '$.signatures is not an object'
  for (const entity of Object.keys(signatures)) {
    if (!isJsonObject(signatures[entity])) return '$.signatures holds a non-object entry'
  }
  return undefined
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
 * first; a hash stored in another base64 form (padded, URL-safe) is compared as bytes. `hashed`
 * is the canonical JSON the content hash covers, when the caller has it already.
 */
function contentHashReproduces(
  event: JsonObject,
  rules: RoomVersionRules,
  hashed: Uint8Array | undefined,
): boolean {
  const hashes = event.hashes
  if (!isJsonObject(hashes) || typeof hashes.sha256 !== 'string') return false
  try {
    const computed =
      hashed === undefined
        ? contentHashBase64(withoutDerivedEventId(event, rules))
        : sha256Base64(hashed, false)
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
  /** Both forms as bytes from one pass each; null once that gave up (each is encoded on its own). */
  #forms: EventFormBytes | null | undefined

  constructor(event: JsonObject, rules: RoomVersionRules) {
    this.event = event
    this.rules = rules
  }

  #fused(): EventFormBytes | undefined {
    if (this.#forms === undefined) {
      try {
        this.#forms = encodeEventFormBytes(this.event, this.rules) ?? null
      } catch {
        this.#forms = null
      }
    }
    return this.#forms ?? undefined
  }

  /**
   * The canonical bytes of the redacted event without `signatures` and `unsigned` (and, from v3,
   * `event_id`): what the reference hash and every signature of the event cover.
   *
   * @throws {CanonicalJsonError} when the redacted event cannot be written as canonical JSON.
   */
  signedBytes(): Uint8Array {
    if (this.#signedBytes === undefined) {
      const forms = this.#fused()
      this.#signedBytes =
        forms === undefined
          ? encodeCanonicalJsonBytes(signedForm(this.event, this.rules))
          : forms.signed
    }
    return this.#signedBytes
  }

  /** Whether `hashes.sha256` is the content hash of the event as parsed. */
  contentHashReproduces(): boolean {
    this.#contentHashMatches ??= contentHashReproduces(
      this.event,
      this.rules,
      this.#fused()?.content,
    )
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
 * a failure no further item is started, and the first failure is the result. A task that answers
 * synchronously is not awaited: a batch whose every event is decided and signed synchronously
 * (sodium-native, say) runs through in one go, without a promise per event.
 */
async function mapInFlight<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T) => R | Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  let failed = false
  const lane = async () => {
    while (next < items.length && !failed) {
      const index = next++
      try {
        const result = task(items[index] as T)
        results[index] = isPending(result) ? await result : result
      } catch (error) {
        failed = true
        throw error
      }
    }
  }

  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane))
  return results
}

function indexes(count: number): number[] {
  return Array.from({ length: count }, (_, index) => index)
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
  readonly #offload: ResignOffload | undefined

  /**
   * @throws {TypeError} for a missing key provider, an empty server name or an `offload` without
   *   `resignBatch()`.
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
    const offload = options.offload
    if (offload !== undefined && typeof offload?.resignBatch !== 'function') {
      throw new TypeError('offload must have resignBatch()')
    }
    this.#keyProvider = provider
    this.#serverName = options.serverName
    this.#concurrency = concurrency
    this.#offload = offload
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
    const signsOnly = typeof this.#offload?.signBatch === 'function' && !context.oldKey
    const elsewhere = signsOnly
      ? (keys: OffloadedKeys, part: readonly StoredEvent[]) =>
          this.#signElsewhere(keys, part, context)
      : async (keys: OffloadedKeys, part: readonly StoredEvent[]) => {
          const answers = await this.#offloadBatch(keys, part.length, {
            kind: 'events',
            events: part,
          })
          return answers.map((answer, index) =>
            answer === undefined ? undefined : this.#adoptSignature(part[index], answer),
          )
        }
    return this.#shareOut(
      events,
      context,
      elsewhere,
      (stored) => this.#resignOne(stored, context),
      signsOnly,
    )
  }

  /** An offloaded event's outcome, with the new signature put on this thread's own event. */
  #adoptSignature(stored: StoredEvent | undefined, answer: OffloadedOutcome): ResignOutcome {
    if (answer.status !== 'resigned') return answer
    const { eventId, keyId, removedSignatures } = answer
    const event = stored?.event as JsonObject
    const signature = answer.signature as string
    return {
      status: 'resigned',
      eventId,
      event: withOnlySignature(event, this.#serverName, keyId, signature),
      removedSignatures,
      keyId,
    }
  }

  /**
   * Decides a part of a batch here, up to the signatures, which the offload's `signBatch` makes:
   * only the signed forms cross to its threads. Events that need a verification first (room
   * versions 1 and 2) are left `undefined`, to be decided here in full.
   */
  async #signElsewhere(
    keys: OffloadedKeys,
    part: readonly StoredEvent[],
    context: BatchContext,
  ): Promise<Array<ResignOutcome | undefined>> {
    const outcomes = new Array<ResignOutcome | undefined>(part.length)
    const ready: Array<{ readonly index: number; readonly step: ReadyToSign }> = []
    const messages: Uint8Array[] = []
    for (let index = 0; index < part.length; index++) {
      const step = this.#upToSigning(part[index] as StoredEvent, context)
      if (step.kind === 'sign') {
        ready.push({ index, step })
        messages.push(step.encodings.signedBytes())
      } else {
        outcomes[index] = step.kind === 'decided' ? step.outcome : undefined
      }
    }
    if (messages.length === 0) return outcomes

    const signatures = await this.#signBatch(keys, messages)
    for (let i = 0; i < ready.length; i++) {
      const { index, step } = ready[i] as { index: number; step: ReadyToSign }
      const signature = signatures[i] as Uint8Array
      outcomes[index] = this.#resigned(step.encodings.event, step.eventId, context, signature)
    }
    return outcomes
  }

  /**
   * Has the offload sign, and checks what it answers.
   *
   * @throws {SignerError} when the offload fails or answers anything but a 64-byte signature each.
   */
  async #signBatch(keys: OffloadedKeys, messages: Uint8Array[]): Promise<readonly Uint8Array[]> {
    const offload = this.#offload as ResignOffload & Required<Pick<ResignOffload, 'signBatch'>>
    let signatures: unknown
    try {
      signatures = await offload.signBatch({ serverName: this.#serverName, keys, messages })
    } catch (error) {
      throw new SignerError('the resign offload failed to sign', { cause: error })
    }
    const usable =
      Array.isArray(signatures) &&
      signatures.length === messages.length &&
      signatures.every((signature) => signature instanceof Uint8Array && signature.length === 64)
    if (!usable) throw new SignerError('the resign offload did not answer a 64-byte signature each')
    return signatures as readonly Uint8Array[]
  }

  /**
   * {@link resign} for events as the store holds them, by their text: each text is parsed here, or,
   * with an `offload`, on the offload's threads, so that the event loop neither parses nor writes
   * JSON. A text that is not JSON ends `malformed`.
   *
   * @returns one outcome per text, in the order given; a re-signed event comes back as JSON text.
   * @throws {TypeError} when `texts` is not an array or `oldKey` is not a verify key.
   * @throws {SignerError} when the key provider or the signer fails or gives something unusable.
   */
  async resignTexts(
    texts: readonly StoredEventText[],
    options: ResignBatchOptions = {},
  ): Promise<ResignTextOutcome[]> {
    if (!Array.isArray(texts)) {
      throw new TypeError(`texts must be an array, got ${describeType(texts)}`)
    }
    const context = await this.#loadContext(options.oldKey)
    const adopt = (answer: OffloadedOutcome | undefined): ResignTextOutcome | undefined => {
      if (answer === undefined || answer.status !== 'resigned') return answer
      const { eventId, json, removedSignatures, keyId } = answer
      return { status: 'resigned', eventId, json: json as string, removedSignatures, keyId }
    }
    return this.#shareOut(
      texts,
      context,
      async (keys, part) =>
        (await this.#offloadBatch(keys, part.length, { kind: 'texts', texts: part })).map(adopt),
      (stored) => this.#resignText(stored, context),
    )
  }

  /**
   * Decides a batch: all of it here without an offload; with one, there (`elsewhere` gives the
   * outcomes of a part, `undefined` for an event left to this thread), and here any event left;
   * with one the caller helps (`callerHelps`), in chunks, of which this thread decides one itself
   * whenever the offload holds as many as it takes. Outcomes keep the order of `items`.
   */
  async #shareOut<T, O>(
    items: readonly T[],
    context: BatchContext,
    elsewhere: (keys: OffloadedKeys, part: readonly T[]) => Promise<ReadonlyArray<O | undefined>>,
    here: (item: T) => O | Promise<O>,
    signsOnly = false,
  ): Promise<O[]> {
    const keys = context.offloaded
    if (keys === undefined) return mapInFlight(items, this.#concurrency, here)
    try {
      return await this.#shareOutWith(keys, items, elsewhere, here, signsOnly)
    } finally {
      // This batch's copy of the seed; the offload keeps its own for as long as it needs it.
      keys.current.seed.fill(0)
    }
  }

  async #shareOutWith<T, O>(
    keys: OffloadedKeys,
    items: readonly T[],
    elsewhere: (keys: OffloadedKeys, part: readonly T[]) => Promise<ReadonlyArray<O | undefined>>,
    here: (item: T) => O | Promise<O>,
    signsOnly: boolean,
  ): Promise<O[]> {
    const finish = (part: readonly T[], decided: ReadonlyArray<O | undefined>) =>
      mapInFlight(
        indexes(part.length),
        this.#concurrency,
        (index) => decided[index] ?? here(part[index] as T),
      )
    const help = callerHelpOf(this.#offload as ResignOffload, signsOnly)
    if (help === undefined)
      return items.length === 0 ? [] : finish(items, await elsewhere(keys, items))

    const outcomes = new Array<O>(items.length)
    const sent: Promise<void>[] = []
    let out = 0
    let failed = false
    let next = 0
    // Chunks shrink towards the end of the batch (guided scheduling), so that this thread and the
    // offload run out of work at about the same time instead of one waiting on a whole chunk.
    const take = () => {
      const start = next
      const share = Math.ceil((items.length - start) / (2 * (help.inFlight + 1)))
      const size = Math.min(help.chunkSize, Math.max(SMALLEST_CHUNK, share))
      next = Math.min(items.length, start + size)
      return { start, part: items.slice(start, next) }
    }
    const place = (start: number, decided: readonly O[]) => {
      decided.forEach((outcome, index) => {
        outcomes[start + index] = outcome
      })
    }
    while (next < items.length && !failed) {
      while (out < help.inFlight && next < items.length) {
        const { start, part } = take()
        out++
        const chunk = elsewhere(keys, part)
          .then((decided) => finish(part, decided))
          .then((decided) => place(start, decided))
          .finally(() => {
            out--
          })
        chunk.catch(() => {
          failed = true
        })
        sent.push(chunk)
      }
      if (next >= items.length) break
      const { start, part } = take()
      place(start, await mapInFlight(part, this.#concurrency, here))
      // Lets the offload's answers in, so that its chunks are refilled before the next one here.
      await yieldToEventLoop()
    }
    await Promise.all(sent)
    return outcomes
  }

  #resignText(
    stored: StoredEventText,
    context: BatchContext,
  ): ResignTextOutcome | Promise<ResignTextOutcome> {
    const eventId = typeof stored?.eventId === 'string' ? stored.eventId : undefined
    let event: unknown
    try {
      event = JSON.parse(stored.json)
    } catch {
      return skip('malformed', eventId, NOT_JSON)
    }
    const outcome = this.#resignOne(
      { event, roomVersion: stored.roomVersion, eventId: stored.eventId },
      context,
    )
    return isPending(outcome) ? outcome.then(asText) : asText(outcome)
  }

  /**
   * Hands a batch to the offload and checks the shape of its answers.
   *
   * @throws {SignerError} when the offload fails or answers something unusable.
   */
  async #offloadBatch(
    keys: OffloadedKeys,
    count: number,
    batch:
      | { kind: 'events'; events: readonly StoredEvent[] }
      | {
          kind: 'texts'
          texts: readonly StoredEventText[]
        },
  ): Promise<ReadonlyArray<OffloadedOutcome | undefined>> {
    const offload = this.#offload as ResignOffload
    let answers: unknown
    try {
      answers = await offload.resignBatch({ ...batch, serverName: this.#serverName, keys })
    } catch (error) {
      throw new SignerError('the resign offload failed', { cause: error })
    }
    if (!Array.isArray(answers) || answers.length !== count) {
      throw new SignerError('the resign offload did not answer one outcome per event')
    }
    const field = batch.kind === 'events' ? 'signature' : 'json'
    const keyId = `ed25519:${keys.current.version}`
    for (const answer of answers as Array<Record<string, unknown> | null | undefined>) {
      if (answer === undefined) continue
      const usable =
        answer === null || typeof answer !== 'object'
          ? false
          : answer.status === 'resigned'
            ? typeof answer[field] === 'string' &&
              answer.keyId === keyId &&
              isJsonObject(answer.removedSignatures)
            : SKIP_REASONS.has(answer.status as string) && typeof answer.detail === 'string'
      if (!usable) throw new SignerError('the resign offload answered an unusable outcome')
    }
    return answers as ReadonlyArray<OffloadedOutcome | undefined>
  }

  async #loadContext(oldKey: VerifyKey | undefined): Promise<BatchContext> {
    if (oldKey !== undefined && (!isKeyId(oldKey?.keyId) || typeof oldKey.verify !== 'function')) {
      throw new TypeError('oldKey must be a VerifyKey')
    }
    const currentKey = await loadCurrentKey(this.#keyProvider)
    const oldKeys = await loadOldVerifyKeys(this.#keyProvider)
    const offloaded =
      this.#offload !== undefined && currentKey instanceof Ed25519SigningKey
        ? offloadedKeys(currentKey, oldKeys, oldKey)
        : undefined
    return { currentKey, knownKeys: [currentKey.verifyKey, ...oldKeys], oldKey, offloaded }
  }

  /** Synchronous up to the signature, and after it too when the signer is (sodium-native). */
  #resignOne(stored: StoredEvent, context: BatchContext): ResignOutcome | Promise<ResignOutcome> {
    const step = this.#upToSigning(stored, context)
    switch (step.kind) {
      case 'decided':
        return step.outcome
      case 'sign':
        return this.#resignProven(step.encodings, step.eventId, context)
      case 'verify':
        return this.#resignVerified(step.encodings, step.given, step.eventId, context)
    }
  }

  /**
   * {@link #resignOne} as far as it goes without waiting for anything: an outcome, or an event
   * whose signed form is proven and ready to sign, or one that needs a verification first (the
   * `old_key` filter, or the proof of a room version 1 or 2 event).
   */
  #upToSigning(stored: StoredEvent, context: BatchContext): NextStep {
    const given = typeof stored?.eventId === 'string' ? stored.eventId : undefined
    const eventId = given ?? jsonEventId(stored?.event)
    if (!isKnownRoomVersion(stored?.roomVersion)) {
      return decided(skip('unknown-room-version', eventId, 'the room version is not "1" to "12"'))
    }

    const malformation = findMalformation(stored.event)
    if (malformation !== undefined) return decided(skip('malformed', eventId, malformation))
    const event = stored.event as JsonObject
    const encodings = new EventEncodings(event, getRoomVersionRules(stored.roomVersion))

    const filtered = this.#filter(encodings, eventId, context)
    if (filtered) return decided(filtered)
    if (context.oldKey !== undefined || encodings.rules.eventIdFormat === 'origin-chosen') {
      return { kind: 'verify', encodings, given, eventId }
    }

    // Without old_key and from version 3, nothing before the signature waits for anything, so
    // each event runs through to its signing request without yielding: with signers on other
    // threads, the first requests leave while the rest of the batch is still being prepared.
    const proof = proveDerivedSafetyRule(encodings, given)
    if (!proof.proven) return decided(skip('unprovable', eventId, proof.detail))
    return { kind: 'sign', encodings, eventId }
  }

  /** The rest of {@link #resignOne} where a signature must be verified first (old_key, v1/v2). */
  async #resignVerified(
    encodings: EventEncodings,
    given: string | undefined,
    eventId: string | undefined,
    context: BatchContext,
  ): Promise<ResignOutcome> {
    const mismatch = context.oldKey && (await this.#matchOldKey(encodings, eventId, context.oldKey))
    if (mismatch) return mismatch

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
    if (!isSenderOn(event.sender, this.#serverName)) {
      return skip('not-ours', eventId, 'the sender is on another server')
    }
    if (findSignature(event, this.#serverName, context.currentKey.keyId) !== undefined) {
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

  /**
   * Signs the very bytes the proof encoded: the signed form is encoded once per event. Synchronous
   * when the signer is.
   */
  #resignProven(
    encodings: EventEncodings,
    eventId: string | undefined,
    context: BatchContext,
  ): ResignedOutcome | Promise<ResignedOutcome> {
    const key = context.currentKey
    const bytes = encodings.signedBytes()
    // A key of the host's (a remote signer) gets bytes of its own, not a view of a shared slab.
    const signature = signWithNow(key, key instanceof Ed25519SigningKey ? bytes : bytes.slice())
    return isPending(signature)
      ? signature.then((bytes) => this.#resigned(encodings.event, eventId, context, bytes))
      : this.#resigned(encodings.event, eventId, context, signature)
  }

  #resigned(
    event: JsonObject,
    eventId: string | undefined,
    context: BatchContext,
    signature: Uint8Array,
  ): ResignedOutcome {
    const keyId = context.currentKey.keyId
    return {
      status: 'resigned',
      eventId,
      event: withOnlySignature(event, this.#serverName, keyId, signatureBase64(signature)),
      removedSignatures: removedSignaturesOf(event, this.#serverName),
      keyId,
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

/** An event proven and ready to sign: the signature goes over `encodings.signedBytes()`. */
interface ReadyToSign {
  readonly kind: 'sign'
  readonly encodings: EventEncodings
  readonly eventId: string | undefined
}

/** Where {@link EventResigner}'s `#upToSigning` left an event. */
type NextStep =
  | { readonly kind: 'decided'; readonly outcome: ResignOutcome }
  | ReadyToSign
  | {
      readonly kind: 'verify'
      readonly encodings: EventEncodings
      readonly given: string | undefined
      readonly eventId: string | undefined
    }

function decided(outcome: ResignOutcome): NextStep {
  return { kind: 'decided', outcome }
}

/**
 * The offload's `callerHelps`, or undefined when it has none or an unusable one. When it only signs
 * (`signsOnly`), it works through a chunk in a fraction of the time this thread takes to decide
 * one, and then this thread prepares a chunk for it (everything but the signature) in a fraction of
 * the time it takes to decide one itself: twice as many chunks are kept out, so that it always has
 * the next while this thread decides one of its own.
 */
function callerHelpOf(
  offload: ResignOffload,
  signsOnly: boolean,
): { chunkSize: number; inFlight: number } | undefined {
  const help = offload.callerHelps
  const usable = (count: unknown) => Number.isSafeInteger(count) && (count as number) > 0
  if (help === undefined || !usable(help?.chunkSize) || !usable(help.inFlight)) return undefined
  return signsOnly ? { chunkSize: help.chunkSize, inFlight: 2 * help.inFlight } : help
}

/** The fewest events a chunk of a shared batch holds, unless fewer are left. */
const SMALLEST_CHUNK = 8

/** Resolves once the event loop has taken its messages: setImmediate where there is one. */
function yieldToEventLoop(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: (callback: () => void) => unknown })
    .setImmediate
  return new Promise((resolve) => {
    if (immediate !== undefined) immediate(resolve)
    else setTimeout(resolve, 0)
  })
}

const SKIP_REASONS: ReadonlySet<string> = new Set<ResignSkipReason>([
  'not-ours',
  'already-current',
  'old-key-mismatch',
  'unprovable',
  'unknown-room-version',
  'malformed',
])

/**
 * The batch's keys as bytes, or undefined when the `old_key` filter's key is not a plain 32-byte
 * Ed25519 key (then the batch stays on this thread).
 */
function offloadedKeys(
  current: Ed25519SigningKey,
  old: readonly VerifyKey[],
  oldKey: VerifyKey | undefined,
): OffloadedKeys | undefined {
  const asBytes = (key: VerifyKey) => ({ version: key.version, bytes: key.bytes })
  if (oldKey !== undefined && !(oldKey.bytes instanceof Uint8Array && oldKey.bytes.length === 32)) {
    return undefined
  }
  return {
    current: { version: current.version, seed: current.encode() },
    old: old.map(asBytes),
    oldKey: oldKey === undefined ? undefined : asBytes(oldKey),
  }
}

/** A re-signed event's outcome with the event as JSON text, as {@link EventResigner.resignTexts} answers. */
function asText(outcome: ResignOutcome): ResignTextOutcome {
  if (outcome.status !== 'resigned') return outcome
  const { eventId, removedSignatures, keyId } = outcome
  return {
    status: 'resigned',
    eventId,
    json: JSON.stringify(outcome.event),
    removedSignatures,
    keyId,
  }
}

function removedSignaturesOf(event: JsonObject, serverName: string): JsonObject {
  const signatures = event.signatures
  if (!isJsonObject(signatures) || !Object.hasOwn(signatures, serverName)) return {}
  return { ...(signatures[serverName] as JsonObject) }
}
