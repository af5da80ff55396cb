import { createHash } from 'node:crypto'
import fc from 'fast-check'
import {
  cryptoBackendName,
  decodeBase64,
  decodeSigningKeyBase64,
  encodeBase64,
  selectSigningBackend,
  signJson,
  verifySignedJson,
} from 'matrix-background-updates'
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
} from './synapse-vectors.js'

const SEED = decodeBase64(SEED_BASE64)
const PUBLIC_KEY = decodeBase64(VERIFY_KEY_BASE64)

afterEach(() => selectSigningBackend('native'))

describe('selectSigningBackend', () => {
  it('signs the same bytes with pure JavaScript as natively', async () => {
    const key = decodeSigningKeyBase64('ed25519', '1', SEED_BASE64)

    selectSigningBackend('pure-js')
    const pureSigned = await signJson({ one: 1, two: 'Two' }, 'domain', key)
    const pureEmpty = await signJson({}, 'domain', key)
    expect(await verifySignedJson(pureSigned, 'domain', key.verifyKey)).toBe(true)
    expect(await verifySignedJson({ ...pureSigned, one: 2 }, 'domain', key.verifyKey)).toBe(false)

    selectSigningBackend('native')
    const nativeSigned = await signJson({ one: 1, two: 'Two' }, 'domain', key)

    expect(pureSigned.signatures.domain?.['ed25519:1']).toBe(ONE_TWO_SIGNATURE)
    expect(pureEmpty.signatures.domain?.['ed25519:1']).toBe(EMPTY_OBJECT_SIGNATURE)
    expect(nativeSigned).toEqual(pureSigned)
  })

  it('refuses an unknown backend name', () => {
    expect(() => selectSigningBackend('sodium' as never)).toThrow(TypeError)
  })

  it('runs the unit tests on the node:crypto backend, as the node build does', () => {
    expect(cryptoBackendName).toBe('node:crypto')
  })
})

describe('the three Ed25519 implementations', () => {
  const backends = [
    ['node:crypto', nodeBackend],
    ['WebCrypto with noble', webBackend],
  ] as const

  it.each(backends)("%s derives the public key of Synapse's test key", (_name, backend) => {
    expect(encodeBase64(backend.ed25519PublicKey(SEED))).toBe(VERIFY_KEY_BASE64)
  })

  it("noble derives the public key of Synapse's test key", () => {
    expect(encodeBase64(pure.purePublicKey(SEED))).toBe(VERIFY_KEY_BASE64)
  })

  it.each(backends)('%s signs the Synapse vector and verifies it', async (_name, backend) => {
    const message = new TextEncoder().encode('{}')
    const signature = await backend.createSigner(SEED, PUBLIC_KEY)(message)
    expect(encodeBase64(signature)).toBe(EMPTY_OBJECT_SIGNATURE)

    const verify = backend.createVerifier(PUBLIC_KEY)
    expect(await verify(message, signature)).toBe(true)
    expect(await verify(new TextEncoder().encode('[]'), signature)).toBe(false)
    expect(await verify(message, signature.subarray(0, 63))).toBe(false)
  })

  it.each(backends)('%s refuses a public key that is no curve point', async (_name, backend) => {
    const notAPoint = decodeBase64('//////////////////////////////////////////8')
    const verify = backend.createVerifier(notAPoint)
    expect(await verify(new Uint8Array(1), new Uint8Array(64))).toBe(false)
  })

  it('all agree on signatures, verification and SHA-256 for any message and seed', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 300 }),
        async (seed, message) => {
          const publicKey = nodeBackend.ed25519PublicKey(seed)
          expect(webBackend.ed25519PublicKey(seed)).toEqual(publicKey)

          const native = await nodeBackend.createSigner(seed, publicKey)(message)
          expect(await webBackend.createSigner(seed, publicKey)(message)).toEqual(native)
          expect(pure.pureSign(seed, message)).toEqual(native)
          expect(await webBackend.createVerifier(publicKey)(message, native)).toBe(true)
          expect(pure.pureVerify(publicKey, native, message)).toBe(true)

          const digest = createHash('sha256').update(message).digest()
          for (const urlSafe of [false, true]) {
            const text = digest.toString(urlSafe ? 'base64url' : 'base64').replace(/=+$/, '')
            expect(nodeBackend.sha256Base64(message, urlSafe)).toBe(text)
            expect(webBackend.sha256Base64(message, urlSafe)).toBe(text)
          }
        },
      ),
      { numRuns: 100 },
    )
  })

  it('agree on SHA-256 in unpadded base64 of any string, as its UTF-8 bytes', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 200 }),
        fc.boolean(),
        (text, urlSafe) => {
          const digest = createHash('sha256').update(Buffer.from(text, 'utf8')).digest()
          const expected = digest.toString(urlSafe ? 'base64url' : 'base64').replace(/=+$/, '')
          expect(nodeBackend.sha256Base64(text, urlSafe)).toBe(expected)
          expect(webBackend.sha256Base64(text, urlSafe)).toBe(expected)
        },
      ),
      { numRuns: 200 },
    )
  })

  it('names the default build backend webcrypto', () => {
    expect(webBackend.backendName).toBe('webcrypto')
    expect(nodeBackend.backendName).toBe('node:crypto')
  })
})
