import fc from 'fast-check'
import {
  computeEventId,
  decodeBase64,
  decodeSigningKeyBase64,
  EventResigner,
  type JsonObject,
  MemoryKeyProvider,
  type SigningBackend,
  type StoredEvent,
  selectSigningBackend,
  signEvent,
  signJson,
  verifyEventSignature,
  verifySignedJson,
} from 'matrix-background-updates'
import {
  sodiumSigningBackend,
  sodiumWorkerBackend,
  sodiumWorkerSigningKey,
} from 'matrix-background-updates/sodium'
import { afterEach, describe, expect, it } from 'vitest'
// Imported without its extension so that the test setup does not swap it for the node:crypto one.
import * as webBackend from '../../src/matrix/crypto/backend'
import * as nodeBackend from '../../src/matrix/crypto/backend.node.js'
import * as pure from '../../src/matrix/crypto/pure.js'
import {
  EMPTY_OBJECT_SIGNATURE,
  ONE_TWO_SIGNATURE,
  SEED_BASE64,
  VERIFY_KEY_BASE64,
} from '../matrix/synapse-vectors.js'

const SEED = decodeBase64(SEED_BASE64)
const PUBLIC_KEY = decodeBase64(VERIFY_KEY_BASE64)
const server = 'example.org'

afterEach(() => selectSigningBackend('native'))

describe('sodiumSigningBackend', () => {
  it("gives Synapse's signatures when selected", async () => {
    const key = decodeSigningKeyBase64('ed25519', '1', SEED_BASE64)
    selectSigningBackend(sodiumSigningBackend)

    const empty = await signJson({}, 'domain', key)
    const oneTwo = await signJson({ one: 1, two: 'Two' }, 'domain', key)

    expect(empty.signatures.domain?.['ed25519:1']).toBe(EMPTY_OBJECT_SIGNATURE)
    expect(oneTwo.signatures.domain?.['ed25519:1']).toBe(ONE_TWO_SIGNATURE)
    expect(await verifySignedJson(oneTwo, 'domain', key.verifyKey)).toBe(true)
    expect(await verifySignedJson({ ...oneTwo, one: 2 }, 'domain', key.verifyKey)).toBe(false)
  })

  it('signs every message byte for byte as node:crypto and noble do', async () => {
    const sign = sodiumSigningBackend.createSigner(SEED, PUBLIC_KEY)
    const verify = sodiumSigningBackend.createVerifier(PUBLIC_KEY)
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), async (message) => {
        const signature = await sign(message)
        const viaNode = await nodeBackend.createSigner(SEED, PUBLIC_KEY)(message)
        expect(signature).toEqual(viaNode)
        expect(signature).toEqual(pure.pureSign(SEED, message))
        expect(await verify(message, viaNode)).toBe(true)
      }),
      { numRuns: 100 },
    )
  })

  it('refuses a signature over other bytes, or of the wrong size', async () => {
    const verify = sodiumSigningBackend.createVerifier(PUBLIC_KEY)
    const message = Uint8Array.of(1, 2, 3)
    const signature = pure.pureSign(SEED, message)

    expect(await verify(Uint8Array.of(1, 2, 4), signature)).toBe(false)
    expect(await verify(message, signature.subarray(0, 63))).toBe(false)
  })

  it('takes over the signers and verifiers of both builds while selected', async () => {
    const message = Uint8Array.of(9, 8, 7)
    const calls: string[] = []
    const counting: SigningBackend = {
      name: 'counting',
      createSigner(seed, publicKey) {
        const sign = sodiumSigningBackend.createSigner(seed, publicKey)
        return (bytes) => {
          calls.push('sign')
          return sign(bytes)
        }
      },
      createVerifier: (publicKey) => sodiumSigningBackend.createVerifier(publicKey),
    }
    selectSigningBackend(counting)

    for (const backend of [nodeBackend, webBackend]) {
      const signature = await backend.createSigner(SEED, PUBLIC_KEY)(message)
      expect(signature).toEqual(pure.pureSign(SEED, message))
      expect(await backend.createVerifier(PUBLIC_KEY)(message, signature)).toBe(true)
    }
    expect(calls).toEqual(['sign', 'sign'])
  })
})

describe('selectSigningBackend with an object', () => {
  it('refuses an object that is not a signing backend', () => {
    expect(() => selectSigningBackend({ name: 'half' } as never)).toThrow(TypeError)
    expect(() => selectSigningBackend(null as never)).toThrow(TypeError)
  })

  it('keeps checking that a plugged-in signer returns 64 bytes', async () => {
    const key = decodeSigningKeyBase64('ed25519', '1', SEED_BASE64)
    selectSigningBackend({
      name: 'short',
      createSigner: () => () => new Uint8Array(63),
      createVerifier: () => () => true,
    })
    await expect(signJson({}, 'domain', key)).rejects.toThrow(/63 bytes/)
  })
})

describe('sodiumWorkerSigningKey', () => {
  it('signs on worker threads byte for byte as the key itself', async () => {
    const key = decodeSigningKeyBase64('ed25519', '1', SEED_BASE64)
    const pooled = sodiumWorkerSigningKey(key, { threads: 2, chunkSize: 7 })
    try {
      const messages = Array.from({ length: 200 }, (_, i) => new TextEncoder().encode(`m${i}`))
      const signatures = await Promise.all(messages.map((message) => pooled.sign(message)))
      const expected = await Promise.all(messages.map((message) => key.sign(message)))

      expect(signatures).toEqual(expected)
      expect(pooled.keyId).toBe('ed25519:1')
      expect(pooled.verifyKey).toBe(key.verifyKey)
    } finally {
      await pooled.close()
    }
  })

  it('rejects signing once closed', async () => {
    const pooled = sodiumWorkerSigningKey(decodeSigningKeyBase64('ed25519', '1', SEED_BASE64))
    await pooled.close()
    await expect(pooled.sign(Uint8Array.of(1))).rejects.toThrow(/closed/)
  })

  it('refuses a thread count or chunk size that is not a positive integer', () => {
    const key = decodeSigningKeyBase64('ed25519', '1', SEED_BASE64)
    expect(() => sodiumWorkerSigningKey(key, { threads: 0 })).toThrow(RangeError)
    expect(() => sodiumWorkerSigningKey(key, { chunkSize: 1.5 })).toThrow(RangeError)
  })

  it('re-signs events through EventResigner as the plain key does', async () => {
    const oldKey = decodeSigningKeyBase64('ed25519', 'old', SEED_BASE64)
    const newKey = decodeSigningKeyBase64(
      'ed25519',
      'new',
      'AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM',
    )
    const stored: StoredEvent[] = []
    for (let i = 0; i < 50; i++) {
      const event = await signEvent(messageEvent(i), '10', server, oldKey)
      stored.push({ event, roomVersion: '10', eventId: computeEventId(event, '10') })
    }
    const pooled = sodiumWorkerSigningKey(newKey, { threads: 2, chunkSize: 4 })
    try {
      const viaPool = new EventResigner({
        keyProvider: new MemoryKeyProvider(pooled),
        serverName: server,
        concurrency: 64,
      })
      const plain = new EventResigner({
        keyProvider: new MemoryKeyProvider(newKey),
        serverName: server,
      })

      const pooledOutcomes = await viaPool.resign(stored)
      expect(pooledOutcomes).toEqual(await plain.resign(stored))
      const [first] = pooledOutcomes
      expect(first?.status).toBe('resigned')
      const event = (first as { event: JsonObject }).event
      expect(await verifyEventSignature(event, '10', server, newKey.verifyKey)).toBe(true)
    } finally {
      await pooled.close()
    }
  })
})

function messageEvent(index: number): JsonObject {
  return {
    type: 'm.room.message',
    room_id: '!room:example.org',
    sender: '@alice:example.org',
    content: { msgtype: 'm.text', body: `hello ${index}` },
    depth: 10 + index,
    prev_events: ['$prev'],
    auth_events: ['$auth'],
    origin_server_ts: 1_690_000_000_000 + index,
  }
}

describe('sodiumWorkerBackend', () => {
  it('signs and verifies on worker threads as the other backends do', async () => {
    const backend = sodiumWorkerBackend({ threads: 2, chunkSize: 5 })
    try {
      const sign = backend.createSigner(SEED, PUBLIC_KEY)
      const verify = backend.createVerifier(PUBLIC_KEY)
      const messages = Array.from({ length: 60 }, (_, i) => new TextEncoder().encode(`m${i}`))
      const signatures = await Promise.all(messages.map((message) => sign(message)))

      expect(signatures).toEqual(messages.map((message) => pure.pureSign(SEED, message)))
      const checks = await Promise.all(
        messages.map((message, i) => verify(message, signatures[i] as Uint8Array)),
      )
      expect(checks.every((ok) => ok === true)).toBe(true)
      const swapped = await Promise.all(
        messages.map((message, i) => verify(message, signatures[(i + 1) % 60] as Uint8Array)),
      )
      expect(swapped.some((ok) => ok !== false)).toBe(false)
    } finally {
      await backend.close()
    }
  })

  it("gives Synapse's signatures and verifies them when selected", async () => {
    const backend = sodiumWorkerBackend()
    try {
      const key = decodeSigningKeyBase64('ed25519', '1', SEED_BASE64)
      selectSigningBackend(backend)
      const oneTwo = await signJson({ one: 1, two: 'Two' }, 'domain', key)

      expect(oneTwo.signatures.domain?.['ed25519:1']).toBe(ONE_TWO_SIGNATURE)
      expect(await verifySignedJson(oneTwo, 'domain', key.verifyKey)).toBe(true)
      expect(await verifySignedJson({ ...oneTwo, one: 2 }, 'domain', key.verifyKey)).toBe(false)
    } finally {
      selectSigningBackend('native')
      await backend.close()
    }
  })

  it('rejects work once closed', async () => {
    const backend = sodiumWorkerBackend()
    const sign = backend.createSigner(SEED, PUBLIC_KEY)
    await backend.close()
    await expect(sign(Uint8Array.of(1))).rejects.toThrow(/closed/)
  })
})
