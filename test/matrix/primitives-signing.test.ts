import fc from 'fast-check'
import {
  CanonicalJsonError,
  decodeSigningKeyBase64,
  encodeBase64,
  generateSigningKey,
  SignerError,
  type SigningKey,
  signJson,
  verifySignedJson,
} from 'matrix-background-updates'
import { describe, expect, it } from 'vitest'
import { canonicalJsonObject } from './json-arbitraries.js'
import {
  EMPTY_OBJECT_SIGNATURE,
  ONE_TWO_SIGNATURE,
  SEED_BASE64,
  VERIFY_KEY_BASE64,
} from './synapse-vectors.js'

const key = decodeSigningKeyBase64('ed25519', '1', SEED_BASE64)

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child)
    Object.freeze(value)
  }
  return value
}

/** A signing key whose signer is replaced, as a misbehaving remote signer would be. */
function withSigner(sign: SigningKey['sign'], overrides: Partial<SigningKey> = {}): SigningKey {
  return {
    algorithm: 'ed25519',
    version: key.version,
    keyId: key.keyId,
    verifyKey: key.verifyKey,
    sign,
    ...overrides,
  }
}

async function signerError(promise: Promise<unknown>): Promise<SignerError> {
  try {
    await promise
  } catch (error) {
    expect(error).toBeInstanceOf(SignerError)
    expect((error as SignerError).code).toBe('ERR_SIGNER')
    return error as SignerError
  }
  throw new Error('expected a SignerError, but signing succeeded')
}

describe('signJson', () => {
  it("gives the signatures of Synapse's test vectors", async () => {
    expect(await signJson({}, 'domain', key)).toEqual({
      signatures: { domain: { 'ed25519:1': EMPTY_OBJECT_SIGNATURE } },
    })
    expect(await signJson({ one: 1, two: 'Two' }, 'domain', key)).toEqual({
      one: 1,
      two: 'Two',
      signatures: { domain: { 'ed25519:1': ONE_TWO_SIGNATURE } },
    })
  })

  it('signs without signatures and unsigned, and keeps both', async () => {
    const object = {
      one: 1,
      two: 'Two',
      unsigned: { age_ts: 922834800000 },
      signatures: { 'other.example': { 'ed25519:x': 'c2ln' }, domain: { 'ed25519:0': 'b2xk' } },
    }
    const signed = await signJson(object, 'domain', key)
    expect(signed).toEqual({
      one: 1,
      two: 'Two',
      unsigned: { age_ts: 922834800000 },
      signatures: {
        'other.example': { 'ed25519:x': 'c2ln' },
        domain: { 'ed25519:0': 'b2xk', 'ed25519:1': ONE_TWO_SIGNATURE },
      },
    })
  })

  it('replaces its own earlier signature under the same key id', async () => {
    const signed = await signJson(
      { one: 1, two: 'Two', signatures: { domain: { 'ed25519:1': 'stale' } } },
      'domain',
      key,
    )
    expect(signed.signatures.domain).toEqual({ 'ed25519:1': ONE_TWO_SIGNATURE })
  })

  it('never changes its input', async () => {
    const object = deepFreeze({
      content: { body: 'hi' },
      unsigned: { age: 1 },
      signatures: { domain: { 'ed25519:0': 'b2xk' } },
    })
    const before = structuredClone(object)
    const signed = await signJson(object, 'domain', key)
    expect(object).toEqual(before)
    expect(signed).not.toBe(object)
    expect(signed.signatures).not.toBe(object.signatures)
    expect(signed.signatures.domain).not.toBe(object.signatures.domain)
  })

  it('keeps an entity named __proto__ as an ordinary member', async () => {
    const object = JSON.parse('{"a":1,"signatures":{"__proto__":{"ed25519:z":"eg"}}}')
    const signed = await signJson(object, '__proto__', key)
    expect(Object.keys(signed.signatures)).toEqual(['__proto__'])
    const ours = Object.getOwnPropertyDescriptor(signed.signatures, '__proto__')?.value
    expect(Object.keys(ours ?? {})).toEqual(['ed25519:z', 'ed25519:1'])
    expect(await verifySignedJson(signed, '__proto__', key.verifyKey)).toBe(true)
  })

  it('refuses what is not a JSON object', async () => {
    await expect(signJson(null as never, 'domain', key)).rejects.toThrow(TypeError)
    await expect(signJson([] as never, 'domain', key)).rejects.toThrow(TypeError)
    await expect(signJson('{}' as never, 'domain', key)).rejects.toThrow(TypeError)
    await expect(signJson({}, '', key)).rejects.toThrow(TypeError)
  })

  it('refuses what canonical JSON cannot encode', async () => {
    await expect(signJson({ depth: 0.5 }, 'domain', key)).rejects.toThrow(CanonicalJsonError)
  })

  it('signs through a slow remote signer', async () => {
    const remote = withSigner(
      (message) =>
        new Promise((resolve, reject) => {
          setTimeout(() => key.sign(message).then(resolve, reject), 5)
        }),
    )
    const signed = await signJson({ one: 1, two: 'Two' }, 'domain', remote)
    expect(signed.signatures.domain?.['ed25519:1']).toBe(ONE_TWO_SIGNATURE)
  })

  it.each([
    ['63 bytes', async () => new Uint8Array(63)],
    ['65 bytes', async () => new Uint8Array(65)],
    ['a base64 string', async () => EMPTY_OBJECT_SIGNATURE as never],
    ['an array of numbers', async () => [...new Uint8Array(64)] as never],
    ['nothing', async () => undefined as never],
  ])('refuses a signer that returns %s', async (_name, sign) => {
    const error = await signerError(signJson({}, 'domain', withSigner(sign)))
    expect(error.message).toContain('ed25519:1')
  })

  it('wraps a signer that fails', async () => {
    const cause = new Error('KMS unavailable')
    const error = await signerError(
      signJson(
        {},
        'domain',
        withSigner(() => Promise.reject(cause)),
      ),
    )
    expect(error.cause).toBe(cause)
  })

  it.each([
    ['another algorithm', 'curve25519:1'],
    ['an empty version', 'ed25519:'],
    ['a version with a space', 'ed25519:a b'],
    ['no key id', undefined],
  ])('refuses a signing key whose id has %s', async (_name, keyId) => {
    const bad = withSigner((message) => key.sign(message), { keyId: keyId as string })
    await signerError(signJson({}, 'domain', bad))
  })
})

describe('verifySignedJson', () => {
  const signed = { one: 1, two: 'Two', signatures: { domain: { 'ed25519:1': ONE_TWO_SIGNATURE } } }

  it("accepts the signature of Synapse's test vector", async () => {
    expect(await verifySignedJson(signed, 'domain', key.verifyKey)).toBe(true)
  })

  it('ignores unsigned and other signatures', async () => {
    const extended = {
      ...signed,
      unsigned: { anything: true },
      signatures: { ...signed.signatures, other: { 'ed25519:1': 'AAAA' } },
    }
    expect(await verifySignedJson(extended, 'domain', key.verifyKey)).toBe(true)
  })

  const sig = (value: unknown) => ({
    one: 1,
    two: 'Two',
    signatures: { domain: { 'ed25519:1': value } },
  })

  it.each([
    ['no signatures', { one: 1, two: 'Two' }],
    ['signatures that are not an object', { one: 1, two: 'Two', signatures: 'x' }],
    ['no signature by the entity', { ...signed, signatures: { other: signed.signatures.domain } }],
    ['an entity entry that is not an object', { ...signed, signatures: { domain: 'x' } }],
    [
      'no signature under the key id',
      { ...signed, signatures: { domain: { 'ed25519:2': ONE_TWO_SIGNATURE } } },
    ],
    ['a signature that is not a string', sig(42)],
    ['a signature that is not base64', sig('!!!')],
    ['a signature of 63 bytes', sig(encodeBase64(new Uint8Array(63)))],
    ['a signature of 65 bytes', sig(encodeBase64(new Uint8Array(65)))],
    ['a signature of 64 zero bytes', sig(encodeBase64(new Uint8Array(64)))],
    ['the signature of another object', sig(EMPTY_OBJECT_SIGNATURE)],
    ['a changed member', { ...signed, two: 'Three' }],
    ['an added member', { ...signed, three: 3 }],
    ['a member canonical JSON cannot encode', { ...signed, three: 0.5 }],
  ])('resolves false for %s', async (_name, object) => {
    expect(await verifySignedJson(object, 'domain', key.verifyKey)).toBe(false)
  })

  it('resolves false for a signature by another key with the same key id', async () => {
    const other = generateSigningKey('1')
    expect(await verifySignedJson(signed, 'domain', other.verifyKey)).toBe(false)
  })

  it('rejects what is not a JSON object', async () => {
    await expect(verifySignedJson(null as never, 'domain', key.verifyKey)).rejects.toThrow(
      TypeError,
    )
  })

  it('accepts what signJson signs and refuses it once changed', async () => {
    const generated = generateSigningKey('prop')
    await fc.assert(
      fc.asyncProperty(canonicalJsonObject, fc.string({ minLength: 1 }), async (object, name) => {
        const signedObject = await signJson(object, name, generated)
        expect(await verifySignedJson(signedObject, name, generated.verifyKey)).toBe(true)

        const changed = { ...signedObject, added: Object.keys(object).length }
        expect(await verifySignedJson(changed, name, generated.verifyKey)).toBe(false)
      }),
      { numRuns: 200 },
    )
  })

  it('accepts a padded or URL-safe signature, as its base64 decodes to the same bytes', async () => {
    const bytes = Buffer.from(ONE_TWO_SIGNATURE, 'base64')
    expect(await verifySignedJson(sig(`${ONE_TWO_SIGNATURE}==`), 'domain', key.verifyKey)).toBe(
      true,
    )
    expect(await verifySignedJson(sig(bytes.toString('base64url')), 'domain', key.verifyKey)).toBe(
      true,
    )
  })

  it("uses the verify key published for Synapse's test key", () => {
    expect(encodeBase64(key.verifyKey.bytes)).toBe(VERIFY_KEY_BASE64)
  })
})
