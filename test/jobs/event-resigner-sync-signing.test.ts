// The re-signer with a signing backend that answers synchronously (as sodium-native does): a batch
// runs through without waiting between events, signs exactly what the asynchronous path signs, and
// fails as that path does when the signer misbehaves.
import { createPrivateKey, sign as nodeSign } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import {
  computeEventId,
  Ed25519SigningKey,
  EventResigner,
  generateSigningKey,
  type JsonObject,
  MemoryKeyProvider,
  type ResignOutcome,
  SignerError,
  type SigningBackend,
  type SigningKey,
  type StoredEvent,
  selectSigningBackend,
  signEvent,
} from '../../src/index.js'

const server = 'example.org'
const oldKey = generateSigningKey('old')
const newKey = generateSigningKey('new')

afterEach(() => selectSigningBackend('native'))

const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')

/** Ed25519 by node:crypto on the calling thread, answering at once; counts its calls. */
function synchronousBackend(onSign: () => void = () => {}): SigningBackend {
  return {
    name: 'synchronous node:crypto',
    createSigner(seed) {
      const key = createPrivateKey({
        key: Buffer.concat([PKCS8_PREFIX, seed]),
        format: 'der',
        type: 'pkcs8',
      })
      return (message) => {
        onSign()
        return new Uint8Array(nodeSign(null, message, key))
      }
    },
    createVerifier() {
      return () => false
    },
  }
}

async function storedEvents(count: number): Promise<StoredEvent[]> {
  const events: StoredEvent[] = []
  for (let i = 0; i < count; i++) {
    const event = await signEvent(
      {
        type: 'm.room.message',
        room_id: '!room:example.org',
        sender: `@user${i}:example.org`,
        content: { msgtype: 'm.text', body: `message ${i}` },
        depth: i + 1,
        prev_events: ['$prev'],
        auth_events: ['$auth'],
        origin_server_ts: 1_700_000_000_000 + i,
        unsigned: { age_ts: 1 },
      },
      '10',
      server,
      oldKey,
    )
    events.push({ event, roomVersion: '10', eventId: computeEventId(event, '10') })
  }
  return events
}

function resigner(key: SigningKey = newKey, concurrency = 16): EventResigner {
  return new EventResigner({
    keyProvider: new MemoryKeyProvider(key),
    serverName: server,
    concurrency,
  })
}

function signaturesOf(outcomes: ResignOutcome[]): string[] {
  return outcomes.map((outcome) => {
    if (outcome.status !== 'resigned') throw new Error(`${outcome.status}: ${outcome.detail}`)
    return JSON.stringify(outcome.event)
  })
}

describe('EventResigner with a synchronous signer', () => {
  it('writes byte for byte the events of the asynchronous default backend', async () => {
    const events = await storedEvents(40)
    const expected = signaturesOf(await resigner().resign(events))
    selectSigningBackend(synchronousBackend())
    expect(signaturesOf(await resigner().resign(events))).toEqual(expected)
  })

  it('decides and signs a whole batch in one go, without waiting between events', async () => {
    const events = await storedEvents(30)
    let signs = 0
    let signsBeforeAnyMicrotask: number | undefined
    selectSigningBackend(
      synchronousBackend(() => {
        if (signs++ === 0) {
          queueMicrotask(() => {
            signsBeforeAnyMicrotask = signs
          })
        }
      }),
    )
    const outcomes = await resigner().resign(events)
    expect(outcomes.every((outcome) => outcome.status === 'resigned')).toBe(true)
    // Every event was signed before the first microtask queued during the batch could run.
    expect(signsBeforeAnyMicrotask).toBe(30)
  })

  it('fails the batch with a SignerError when the signer throws, keeping the cause', async () => {
    const events = await storedEvents(5)
    const failure = new Error('the HSM is unplugged')
    let calls = 0
    selectSigningBackend({
      ...synchronousBackend(),
      createSigner: () => () => {
        calls++
        throw failure
      },
    })
    const error = await resigner()
      .resign(events)
      .catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(SignerError)
    expect((error as SignerError).cause).toBe(failure)
    // After the first failure no further event is started.
    expect(calls).toBe(1)
  })

  it('rejects a signature that is not 64 bytes, given at once or later', async () => {
    const events = await storedEvents(2)
    for (const answer of [
      () => new Uint8Array(63),
      () => Promise.resolve(new Uint8Array(65)),
      () => 'not bytes' as unknown as Uint8Array,
    ]) {
      selectSigningBackend({ ...synchronousBackend(), createSigner: () => answer })
      await expect(resigner().resign(events)).rejects.toThrow(/not a 64-byte signature/)
    }
  })

  it('takes a signer that answers later from the same backend interface', async () => {
    const events = await storedEvents(8)
    const expected = signaturesOf(await resigner().resign(events))
    const inner = synchronousBackend()
    selectSigningBackend({
      ...inner,
      createSigner: (seed, publicKey) => {
        const sign = inner.createSigner(seed, publicKey)
        return async (message) => sign(message)
      },
    })
    expect(signaturesOf(await resigner(newKey, 3).resign(events))).toEqual(expected)
  })

  it("gives a host's key bytes of their own, not a view of memory shared with other events", async () => {
    const events = await storedEvents(6)
    const seen: Uint8Array[] = []
    const hostKey: SigningKey = {
      algorithm: 'ed25519',
      version: newKey.version,
      keyId: newKey.keyId,
      verifyKey: newKey.verifyKey,
      sign: async (message) => {
        seen.push(message)
        return newKey.sign(message)
      },
    }
    const outcomes = await resigner(hostKey).resign(events)
    expect(outcomes.every((outcome) => outcome.status === 'resigned')).toBe(true)
    expect(seen).toHaveLength(6)
    for (const message of seen) {
      expect(message.byteOffset).toBe(0)
      expect(message.buffer.byteLength).toBe(message.length)
    }
  })

  it("uses a subclass's own sign() rather than the key's built-in signer", async () => {
    const events = await storedEvents(3)
    let calls = 0
    class CountingKey extends Ed25519SigningKey {
      override async sign(message: Uint8Array): Promise<Uint8Array> {
        calls++
        return super.sign(message)
      }
    }
    const key = new CountingKey('new', newKey.encode())
    const outcomes = await resigner(key).resign(events)
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['resigned', 'resigned', 'resigned'])
    expect(calls).toBe(3)
  })

  it('keeps other servers’ signatures and the place of ours in the re-signed event', async () => {
    const [stored] = await storedEvents(1)
    const event = stored?.event as JsonObject
    const signatures = event.signatures as JsonObject
    const reordered = {
      ...event,
      signatures: {
        'a.example': { 'ed25519:x': 'aaa' },
        ...signatures,
        'z.example': { 'ed25519:y': 'zzz' },
      },
    }
    selectSigningBackend(synchronousBackend())
    const [outcome] = await resigner().resign([{ ...stored, event: reordered } as StoredEvent])
    if (outcome?.status !== 'resigned') throw new Error('not re-signed')
    const written = outcome.event.signatures as JsonObject
    expect(Object.keys(written)).toEqual(['a.example', server, 'z.example'])
    expect(Object.keys(written[server] as JsonObject)).toEqual([newKey.keyId])
    expect(written['a.example']).toEqual({ 'ed25519:x': 'aaa' })
    expect(written['a.example']).not.toBe((reordered.signatures as JsonObject)['a.example'])
  })
})
