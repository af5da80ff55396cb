import {
  BackgroundUpdateRunner,
  computeEventId,
  encodeVerifyKeyBase64,
  generateSigningKey,
  type JsonObject,
  type KeyProvider,
  MemoryKeyProvider,
  type MemoryStorageAdapter,
  type RunnerOptions,
  type SigningKey,
  signEvent,
} from 'matrix-background-updates'
import { createHomeserverStorage, FakeClock } from 'matrix-background-updates/testing'

/** A fake clock, a memory adapter with the built-in capabilities, and a runner on both. */
export function makeHomeserver(options: Partial<RunnerOptions> = {}) {
  const clock = new FakeClock()
  const { storage, homeserver } = createHomeserverStorage({ clock })
  const runner = new BackgroundUpdateRunner({ sleepEnabled: false, ...options, storage, clock })
  return { clock, storage, homeserver, runner }
}

/** Another runner on the same storage, as after a restart. */
export function restartedRunner(
  storage: MemoryStorageAdapter,
  clock: FakeClock,
  options: Partial<RunnerOptions> = {},
) {
  return new BackgroundUpdateRunner({ sleepEnabled: false, ...options, storage, clock })
}

export const oldKey = generateSigningKey('old')
export const newKey = generateSigningKey('new')

/** `"ed25519:<version> <base64>"`, the `old_key` parameter for a key. */
export function oldKeyParam(key: SigningKey): string {
  return `${key.keyId} ${encodeVerifyKeyBase64(key.verifyKey)}`
}

/** A provider that signed with `oldKey` and now signs with `newKey`. */
export function rotatedProvider(): MemoryKeyProvider {
  const provider = new MemoryKeyProvider(oldKey)
  provider.rotate(newKey, 1_700_000_000_000)
  return provider
}

/** A provider that runs `hook` each time the current key is asked for. */
export function hookedProvider(inner: KeyProvider, hook: () => unknown): KeyProvider {
  return {
    async currentKey() {
      await hook()
      return inner.currentKey()
    },
    oldVerifyKeys: () => inner.oldVerifyKeys(),
  }
}

/** A message event of `sender`, unsigned. */
export function message(sender: string, body: string, overrides: JsonObject = {}): JsonObject {
  return {
    type: 'm.room.message',
    room_id: '!room:example.org',
    sender,
    content: { msgtype: 'm.text', body },
    depth: 7,
    prev_events: [],
    auth_events: [],
    origin_server_ts: 1_690_000_000_000,
    ...overrides,
  }
}

/** An event as a store holds it: signed, and filed under its ID. */
export interface SignedEvent {
  readonly event: JsonObject
  readonly eventId: string
  readonly roomVersion: string
}

/**
 * Signs a message of `sender` in a room of `roomVersion` by `server` with `key`. Versions 1 and 2
 * carry their origin-chosen ID inside the event.
 */
export async function signedMessage(
  sender: string,
  body: string,
  options: { roomVersion?: string; server?: string; key?: SigningKey; extra?: JsonObject } = {},
): Promise<SignedEvent> {
  const roomVersion = options.roomVersion ?? '10'
  const server = options.server ?? sender.slice(sender.indexOf(':') + 1)
  const originChosen = roomVersion === '1' || roomVersion === '2'
  const idPart: JsonObject = originChosen ? { event_id: `$${body}:${server}` } : {}
  const unsigned = message(sender, body, { ...idPart, ...options.extra })
  const event = await signEvent(unsigned, roomVersion, server, options.key ?? oldKey)
  const eventId = originChosen ? `$${body}:${server}` : computeEventId(event, roomVersion)
  return { event, eventId, roomVersion }
}

/** The signatures of `entity` in a stored event. */
export function signaturesOf(event: JsonObject, entity: string): JsonObject | undefined {
  return (event.signatures as Record<string, JsonObject> | undefined)?.[entity]
}
