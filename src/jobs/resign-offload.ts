import type { JsonObject } from '../matrix/canonical-json.js'
import type { SkippedOutcome, StoredEvent } from './event-resigner.js'

/** An event as the store holds it, by its stored text rather than parsed. */
export interface StoredEventText {
  /** The stored JSON text (Synapse's `event_json.json`). */
  readonly json: string
  /** The version of the event's room, `"1"` to `"12"`. */
  readonly roomVersion: string
  /** The event ID the store files the event under; see {@link StoredEvent.eventId}. */
  readonly eventId?: string | undefined
}

/** A public Ed25519 key as bytes, for a key to cross to another thread. */
export interface OffloadedVerifyKey {
  /** The part of the key id after `ed25519:`. */
  readonly version: string
  /** The 32-byte public key. */
  readonly bytes: Uint8Array
}

/**
 * The keys a batch is decided and signed with, as bytes. `seed` is the current signing key's
 * secret seed: whatever receives a request holds the key.
 */
export interface OffloadedKeys {
  /** The current key, which signs. */
  readonly current: { readonly version: string; readonly seed: Uint8Array }
  /** The provider's old verify keys, which may prove a version 1 or 2 event. */
  readonly old: readonly OffloadedVerifyKey[]
  /** The `old_key` filter of the batch, when it has one. */
  readonly oldKey?: OffloadedVerifyKey | undefined
}

/** One batch handed to a {@link ResignOffload}: parsed events or stored texts, never both. */
export type ResignOffloadRequest =
  | {
      readonly kind: 'events'
      readonly serverName: string
      readonly keys: OffloadedKeys
      readonly events: readonly StoredEvent[]
    }
  | {
      readonly kind: 'texts'
      readonly serverName: string
      readonly keys: OffloadedKeys
      readonly texts: readonly StoredEventText[]
    }

/**
 * Signed forms of a batch's events to be signed elsewhere with the current key: what
 * {@link ResignOffload.signBatch} is given. `serverName` and `keys` are the batch's, as in a
 * {@link ResignOffloadRequest}; only `keys.current` signs.
 */
export interface ResignSigningRequest {
  readonly serverName: string
  readonly keys: OffloadedKeys
  /**
   * The canonical bytes to sign, one per event. Each may be a view into a buffer that holds other
   * events' signed forms too (public event data): copy what you keep past the call.
   */
  readonly messages: readonly Uint8Array[]
}

/**
 * An event re-signed elsewhere: for parsed events, the new signature (the caller puts it on its
 * own object); for stored texts, the new text.
 */
export interface OffloadedResigned {
  readonly status: 'resigned'
  readonly eventId: string | undefined
  readonly keyId: string
  /** The new signature, unpadded base64 (parsed events). */
  readonly signature?: string | undefined
  /** The new event as JSON text (stored texts). */
  readonly json?: string | undefined
  readonly removedSignatures: JsonObject
}

/** What became of one event decided elsewhere. */
export type OffloadedOutcome = OffloadedResigned | SkippedOutcome

/**
 * Decides and re-signs batches somewhere other than the calling thread, with the very pipeline of
 * {@link EventResigner} (the safety rule included). `resignWorkers()` of
 * `matrix-background-updates/node` is the implementation the library ships: give it to
 * `EventResigner` or `eventResignJob` as `offload`.
 *
 * An implementation answers one entry per event, in order; `undefined` for an event it could not
 * take (one that cannot cross to its thread, say), which the resigner then decides itself.
 */
export interface ResignOffload {
  resignBatch(request: ResignOffloadRequest): Promise<ReadonlyArray<OffloadedOutcome | undefined>>
  /**
   * Optional: signs with the current key only, one 64-byte signature per message, in order. When
   * it is there, {@link EventResigner.resign} (parsed events) decides every event on the calling
   * thread and hands the offload only the signatures to make, which costs far less than cloning
   * whole events to another thread; batches with an `old_key`, and stored texts
   * ({@link EventResigner.resignTexts}), still go to `resignBatch`. What it answers is checked
   * (64 bytes each) before it goes into an event.
   */
  signBatch?(request: ResignSigningRequest): Promise<readonly Uint8Array[]>
  /**
   * Set when the calling thread is to work too: the resigner then hands the offload chunks of
   * `chunkSize` events, keeps `inFlight` of them there, and decides a chunk itself whenever that
   * many are out, so that its core is busy as well (at the cost of holding its event loop). Without
   * it, the offload gets each batch whole and the calling thread waits.
   */
  readonly callerHelps?: { readonly chunkSize: number; readonly inFlight: number } | undefined
}
