import { inspect } from 'node:util'
import {
  decodeBase64,
  decodeSigningKeyBase64,
  decodeVerifyKeyBase64,
  Ed25519SigningKey,
  encodeBase64,
  encodeVerifyKeyBase64,
  generateSigningKey,
  getVerifyKey,
  isKeyId,
  KeyFormatError,
  parseVerifyKey,
} from 'matrix-background-updates'
import { describe, expect, it } from 'vitest'
import { KEY_VERSION, SEED_BASE64, VERIFY_KEY_BASE64 } from './synapse-vectors.js'

const SEED = decodeBase64(SEED_BASE64)

/** Every way the seed could show up in text. */
const seedForms = [
  SEED_BASE64.slice(0, 40),
  Buffer.from(SEED).toString('hex'),
  Buffer.from(SEED).toString('base64url').slice(0, 40),
  [...SEED].join(', '),
  [...SEED].join(','),
]

function expectNoSeed(text: string): void {
  for (const form of seedForms) expect(text).not.toContain(form)
}

function keyFormatError(run: () => unknown): KeyFormatError {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(KeyFormatError)
    expect((error as KeyFormatError).code).toBe('ERR_KEY_FORMAT')
    return error as KeyFormatError
  }
  throw new Error('expected a KeyFormatError, but nothing was thrown')
}

describe('signing keys', () => {
  it("derives the verify key of Synapse's test key", () => {
    const key = decodeSigningKeyBase64('ed25519', KEY_VERSION, SEED_BASE64)
    expect(key.keyId).toBe('ed25519:1')
    expect(key.algorithm).toBe('ed25519')
    expect(key.version).toBe('1')
    expect(encodeVerifyKeyBase64(getVerifyKey(key))).toBe(VERIFY_KEY_BASE64)
    expect(getVerifyKey(key).keyId).toBe('ed25519:1')
  })

  it('generates a key that signs what its verify key accepts', async () => {
    const key = generateSigningKey('a_1')
    expect(key.keyId).toBe('ed25519:a_1')
    expect(key.verifyKey.bytes).toHaveLength(32)

    const message = new TextEncoder().encode('hello')
    const signature = await key.sign(message)
    expect(signature).toHaveLength(64)
    expect(await key.verifyKey.verify(message, signature)).toBe(true)
    expect(await key.verifyKey.verify(new TextEncoder().encode('hellO'), signature)).toBe(false)
  })

  it('generates a different key each time', () => {
    const a = encodeVerifyKeyBase64(generateSigningKey('a').verifyKey)
    const b = encodeVerifyKeyBase64(generateSigningKey('a').verifyKey)
    expect(a).not.toBe(b)
  })

  it.each([
    ['empty', ''],
    ['a space', 'a b'],
    ['a colon', 'a:b'],
    ['a hyphen', 'a-b'],
    ['a non-ASCII letter', 'ä'],
    ['a trailing newline', 'abc\n'],
  ])('refuses a version that is %s', (_name, version) => {
    keyFormatError(() => generateSigningKey(version))
    keyFormatError(() => decodeSigningKeyBase64('ed25519', version, SEED_BASE64))
    keyFormatError(() => decodeVerifyKeyBase64('ed25519', version, VERIFY_KEY_BASE64))
    keyFormatError(() => new Ed25519SigningKey(version, SEED))
  })

  it('refuses a version that is not a string', () => {
    keyFormatError(() => generateSigningKey(1 as never))
  })

  it.each(['curve25519', 'ED25519', 'ed25519 ', '', 'signed_curve25519'])(
    'refuses the algorithm %j',
    (algorithm) => {
      const error = keyFormatError(() => decodeSigningKeyBase64(algorithm, '1', SEED_BASE64))
      expectNoSeed(error.message)
      keyFormatError(() => decodeVerifyKeyBase64(algorithm, '1', VERIFY_KEY_BASE64))
    },
  )

  it.each([0, 16, 31, 33, 64])('refuses a %i-byte seed without naming it', (length) => {
    const seed = new Uint8Array(length).map((_, i) => SEED[i % 32] as number)
    const error = keyFormatError(() => decodeSigningKeyBase64('ed25519', '1', encodeBase64(seed)))
    expect(error.message).toContain(`${length}`)
    expectNoSeed(error.message)
    keyFormatError(() => new Ed25519SigningKey('1', seed))
  })

  it('refuses a seed that is not base64 without naming it', () => {
    const error = keyFormatError(() =>
      decodeSigningKeyBase64('ed25519', '1', `${SEED_BASE64.slice(0, 40)}!!!`),
    )
    expectNoSeed(error.message)
    keyFormatError(() => decodeSigningKeyBase64('ed25519', '1', 42 as never))
  })

  it('refuses a seed that is not a Uint8Array', () => {
    expect(() => new Ed25519SigningKey('1', [...SEED] as never)).toThrow(TypeError)
  })

  it('keeps the seed out of messages, JSON and inspection', () => {
    const key = decodeSigningKeyBase64('ed25519', '1', SEED_BASE64)
    const shown = [
      JSON.stringify(key),
      JSON.stringify({ key }),
      JSON.stringify(key.verifyKey),
      inspect(key),
      inspect({ nested: [key] }, { depth: 10 }),
      inspect(key, { customInspect: false, showHidden: true, depth: 10 }),
      inspect(key.verifyKey, { showHidden: true, depth: 10 }),
      String(key),
      Object.getOwnPropertyNames(key).join(','),
      JSON.stringify(Object.getOwnPropertyDescriptors(key), (_k, v) =>
        v instanceof Uint8Array ? [...v] : v,
      ),
    ]
    for (const text of shown) expectNoSeed(text)
    expect(JSON.stringify(key)).toContain(VERIFY_KEY_BASE64)
    expect(inspect(key)).toContain('ed25519:1')
  })

  it('gives a copy of the seed from encode', () => {
    const key = new Ed25519SigningKey('1', SEED.slice())
    const seed = key.encode()
    expect(seed).toEqual(SEED)
    seed.fill(0)
    expect(key.encode()).toEqual(SEED)
  })

  it('is not changed when the caller later changes the seed it gave', async () => {
    const seed = SEED.slice()
    const key = new Ed25519SigningKey('1', seed)
    seed.fill(7)
    expect(key.encode()).toEqual(SEED)
    expect(encodeVerifyKeyBase64(key.verifyKey)).toBe(VERIFY_KEY_BASE64)
  })

  it('refuses to sign what is not bytes', async () => {
    const key = generateSigningKey('1')
    await expect(key.sign('text' as never)).rejects.toThrow(TypeError)
    await expect(key.verifyKey.verify('text' as never, new Uint8Array(64))).rejects.toThrow(
      TypeError,
    )
  })

  it('refuses what is not a key in getVerifyKey and encodeVerifyKeyBase64', () => {
    expect(() => getVerifyKey(null as never)).toThrow(TypeError)
    expect(() => getVerifyKey({} as never)).toThrow(TypeError)
    expect(() => encodeVerifyKeyBase64({ bytes: 'x' } as never)).toThrow(TypeError)
  })
})

describe('verify keys', () => {
  it('decodes a verify key from base64', () => {
    const key = decodeVerifyKeyBase64('ed25519', 'abc_1', VERIFY_KEY_BASE64)
    expect(key.keyId).toBe('ed25519:abc_1')
    expect(key.version).toBe('abc_1')
    expect(encodeVerifyKeyBase64(key)).toBe(VERIFY_KEY_BASE64)
  })

  it.each([0, 31, 33, 64])('refuses a %i-byte verify key', (length) => {
    keyFormatError(() =>
      decodeVerifyKeyBase64('ed25519', '1', encodeBase64(new Uint8Array(length))),
    )
  })

  it('refuses a verify key that is not base64', () => {
    keyFormatError(() => decodeVerifyKeyBase64('ed25519', '1', 'not base64!'))
  })

  it('keeps its own copy of the key bytes', () => {
    const bytes = decodeBase64(VERIFY_KEY_BASE64)
    const key = decodeVerifyKeyBase64('ed25519', '1', encodeBase64(bytes))
    bytes.fill(0)
    expect(encodeVerifyKeyBase64(key)).toBe(VERIFY_KEY_BASE64)
  })
})

describe('parseVerifyKey', () => {
  it('parses "ed25519:<version> <base64>"', () => {
    const key = parseVerifyKey(`ed25519:auto ${VERIFY_KEY_BASE64}`)
    expect(key.keyId).toBe('ed25519:auto')
    expect(encodeVerifyKeyBase64(key)).toBe(VERIFY_KEY_BASE64)
  })

  it('accepts surrounding whitespace and a tab between the parts', () => {
    expect(parseVerifyKey(` ed25519:1\t${VERIFY_KEY_BASE64}\n`).keyId).toBe('ed25519:1')
  })

  it('accepts a padded or URL-safe key', () => {
    const urlSafe = Buffer.from(decodeBase64(VERIFY_KEY_BASE64)).toString('base64url')
    expect(encodeVerifyKeyBase64(parseVerifyKey(`ed25519:1 ${VERIFY_KEY_BASE64}=`))).toBe(
      VERIFY_KEY_BASE64,
    )
    expect(encodeVerifyKeyBase64(parseVerifyKey(`ed25519:1 ${urlSafe}`))).toBe(VERIFY_KEY_BASE64)
  })

  it.each([
    ['empty text', ''],
    ['only a key id', 'ed25519:1'],
    ['only a key', VERIFY_KEY_BASE64],
    ['three parts', `ed25519:1 ${VERIFY_KEY_BASE64} extra`],
    ['the key file layout', `ed25519 1 ${VERIFY_KEY_BASE64}`],
    ['no colon', `ed255191 ${VERIFY_KEY_BASE64}`],
    ['another algorithm', `curve25519:1 ${VERIFY_KEY_BASE64}`],
    ['an empty version', `ed25519: ${VERIFY_KEY_BASE64}`],
    ['a version with a colon', `ed25519:a:b ${VERIFY_KEY_BASE64}`],
    ['a version with a hyphen', `ed25519:a-b ${VERIFY_KEY_BASE64}`],
    ['a short key', `ed25519:1 ${VERIFY_KEY_BASE64.slice(0, 40)}`],
    ['a key that is not base64', `ed25519:1 ${VERIFY_KEY_BASE64.slice(0, 42)}!`],
  ])('refuses %s with a KeyFormatError that does not repeat the key', (_name, text) => {
    const error = keyFormatError(() => parseVerifyKey(text))
    expect(error.message).not.toContain(VERIFY_KEY_BASE64.slice(0, 40))
  })

  it('refuses what is not text', () => {
    keyFormatError(() => parseVerifyKey(42 as never))
    keyFormatError(() => parseVerifyKey(null as never))
  })

  it('does not echo a seed passed by mistake', () => {
    const error = keyFormatError(() => parseVerifyKey(`ed25519:1 ${SEED_BASE64}x`))
    expectNoSeed(error.message)
  })
})

describe('isKeyId', () => {
  it.each(['ed25519:1', 'ed25519:a_B_9', 'ed25519:auto'])('accepts %j', (keyId) => {
    expect(isKeyId(keyId)).toBe(true)
  })

  it.each(['ed25519:', 'ed25519', 'ed25519:a b', 'curve25519:1', 'ed25519:a:b', 'ED25519:1', 7])(
    'refuses %j',
    (keyId) => {
      expect(isKeyId(keyId)).toBe(false)
    },
  )
})
