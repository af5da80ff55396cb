import {
  decodeSigningKeyBase64,
  encodeBase64,
  encodeVerifyKeyBase64,
  generateSigningKey,
  KeyFileError,
  KeyFormatError,
  type KeyProvider,
  loadCurrentKey,
  loadOldVerifyKeys,
  MemoryKeyProvider,
  SignerError,
  type SigningKey,
  SigningKeyFileProvider,
  signJson,
  verifySignedJson,
  writeSigningKeys,
} from 'matrix-background-updates'
import { describe, expect, it } from 'vitest'
import { SEED_BASE64, VERIFY_KEY_BASE64 } from '../matrix/synapse-vectors.js'

const current = decodeSigningKeyBase64('ed25519', 'current', SEED_BASE64)
const previous = generateSigningKey('previous')
const OLD_KEY_TEXT = `ed25519:previous ${encodeVerifyKeyBase64(previous.verifyKey)}`

/** A signing key object with some of its parts replaced, as a custom provider might build it. */
function customKey(overrides: Record<string, unknown>): SigningKey {
  return {
    algorithm: 'ed25519',
    version: current.version,
    keyId: current.keyId,
    verifyKey: current.verifyKey,
    sign: (message: Uint8Array) => current.sign(message),
    ...overrides,
  } as SigningKey
}

function provider(
  currentKey: () => Promise<unknown>,
  oldKeys?: () => Promise<unknown>,
): KeyProvider {
  return {
    currentKey: currentKey as KeyProvider['currentKey'],
    oldVerifyKeys: (oldKeys ?? (async () => [])) as KeyProvider['oldVerifyKeys'],
  }
}

async function rejection<T extends Error>(
  promise: Promise<unknown>,
  type: new (...args: never[]) => T,
): Promise<T> {
  try {
    await promise
  } catch (error) {
    expect(error).toBeInstanceOf(type)
    return error as T
  }
  throw new Error(`expected a ${type.name}, but the promise resolved`)
}

describe('MemoryKeyProvider', () => {
  it('gives its current key and its old verify keys', async () => {
    const keys = new MemoryKeyProvider(current, {
      oldVerifyKeys: [
        { key: OLD_KEY_TEXT, expired_ts: 1_700_000_000_000 },
        { key: generateSigningKey('older').verifyKey, expired_ts: 0 },
      ],
    })
    expect(await keys.currentKey()).toBe(current)

    const old = await keys.oldVerifyKeys()
    expect(old.map((key) => [key.keyId, key.expired_ts])).toEqual([
      ['ed25519:previous', 1_700_000_000_000],
      ['ed25519:older', 0],
    ])
    expect(encodeVerifyKeyBase64(old[0] as never)).toBe(encodeVerifyKeyBase64(previous.verifyKey))
  })

  it('gives old verify keys that check the signatures of their key', async () => {
    const keys = new MemoryKeyProvider(current, {
      oldVerifyKeys: [{ key: OLD_KEY_TEXT, expired_ts: 1 }],
    })
    const [old] = await keys.oldVerifyKeys()
    const signed = await signJson({ a: 1 }, 'example.org', previous)
    expect(await verifySignedJson(signed, 'example.org', old as never)).toBe(true)
    expect(await verifySignedJson({ ...signed, a: 2 }, 'example.org', old as never)).toBe(false)
  })

  it('gives a copy of its old key list each time', async () => {
    const keys = new MemoryKeyProvider(current, {
      oldVerifyKeys: [{ key: OLD_KEY_TEXT, expired_ts: 1 }],
    })
    const first = await keys.oldVerifyKeys()
    first.pop()
    expect(await keys.oldVerifyKeys()).toHaveLength(1)
    expect(Object.isFrozen((await keys.oldVerifyKeys())[0])).toBe(true)
  })

  it('keeps the previous key as an old verify key on rotation', async () => {
    const keys = new MemoryKeyProvider(previous)
    keys.rotate(current, 1234)
    expect(await keys.currentKey()).toBe(current)
    expect((await keys.oldVerifyKeys()).map((key) => [key.keyId, key.expired_ts])).toEqual([
      ['ed25519:previous', 1234],
    ])

    keys.rotate(previous, 2000)
    keys.rotate(current, 3000)
    expect((await keys.oldVerifyKeys()).map((key) => [key.keyId, key.expired_ts])).toEqual([
      ['ed25519:current', 2000],
      ['ed25519:previous', 3000],
    ])
  })

  it.each([
    ['a key id of another algorithm', { keyId: 'curve25519:current' }],
    ['an empty key version', { keyId: 'ed25519:' }],
    ['a key id that disagrees with its verify key', { keyId: 'ed25519:other' }],
    ['no sign function', { sign: undefined }],
    ['no verify key', { verifyKey: undefined }],
    [
      'a verify key of 31 bytes',
      { verifyKey: { ...current.verifyKey, keyId: 'ed25519:current', bytes: new Uint8Array(31) } },
    ],
  ])('refuses a current key with %s', (_name, overrides) => {
    expect(() => new MemoryKeyProvider(customKey(overrides))).toThrow(SignerError)
    const keys = new MemoryKeyProvider(current)
    expect(() => keys.rotate(customKey(overrides))).toThrow(SignerError)
  })

  it('refuses old verify keys that are malformed', () => {
    const make = (entry: unknown) => () =>
      new MemoryKeyProvider(current, { oldVerifyKeys: [entry as never] })
    expect(make({ key: 'ed25519:1', expired_ts: 1 })).toThrow(KeyFormatError)
    expect(make({ key: `ed25519:a-b ${VERIFY_KEY_BASE64}`, expired_ts: 1 })).toThrow(KeyFormatError)
    expect(
      make({ key: { ...previous.verifyKey, keyId: 'rsa:1', verify: () => true }, expired_ts: 1 }),
    ).toThrow(KeyFormatError)
    expect(
      make({
        key: { keyId: 'ed25519:1', bytes: new Uint8Array(31), verify: () => true },
        expired_ts: 1,
      }),
    ).toThrow(KeyFormatError)
    expect(make({ key: 42, expired_ts: 1 })).toThrow(TypeError)
    expect(make(null)).toThrow(TypeError)
    expect(make({ key: OLD_KEY_TEXT, expired_ts: -1 })).toThrow(RangeError)
    expect(make({ key: OLD_KEY_TEXT, expired_ts: 1.5 })).toThrow(RangeError)
    expect(make({ key: OLD_KEY_TEXT })).toThrow(RangeError)
  })
})

describe('SigningKeyFileProvider', () => {
  const file = writeSigningKeys([
    current,
    decodeSigningKeyBase64('ed25519', 'next', encodeBase64(new Uint8Array(32).fill(9))),
  ])

  it('uses the first key of the file as the current key, as Synapse does', async () => {
    const keys = new SigningKeyFileProvider(file)
    const key = await keys.currentKey()
    expect(key.keyId).toBe('ed25519:current')
    expect(encodeVerifyKeyBase64(key.verifyKey)).toBe(VERIFY_KEY_BASE64)
    expect(await keys.oldVerifyKeys()).toEqual([])
  })

  it('takes its old verify keys separately', async () => {
    const keys = new SigningKeyFileProvider(file, {
      oldVerifyKeys: [{ key: OLD_KEY_TEXT, expired_ts: 5 }],
    })
    expect((await keys.oldVerifyKeys()).map((key) => key.keyId)).toEqual(['ed25519:previous'])
  })

  it('refuses a file without keys', () => {
    expect(() => new SigningKeyFileProvider('\n\n')).toThrow(SignerError)
  })

  it('refuses a malformed file by line number, without the seed', () => {
    let error: unknown
    try {
      new SigningKeyFileProvider(`${file}ed25519 bad ${SEED_BASE64.slice(1)}\n`)
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(KeyFileError)
    expect((error as KeyFileError).line).toBe(3)
    expect((error as Error).message).not.toContain(SEED_BASE64.slice(1, 30))
  })
})

describe('loadCurrentKey', () => {
  it('gives the key of a well-behaved provider', async () => {
    expect(await loadCurrentKey(new MemoryKeyProvider(current))).toBe(current)
  })

  it('wraps a provider that fails', async () => {
    const cause = new Error('vault sealed')
    const error = await rejection(
      loadCurrentKey(provider(() => Promise.reject(cause))),
      SignerError,
    )
    expect(error.cause).toBe(cause)
  })

  it.each([
    ['nothing', undefined],
    ['a string', 'ed25519:1'],
    ['a key with a malformed id', customKey({ keyId: 'ed25519:a b' })],
    ['a key whose verify key has another id', customKey({ keyId: 'ed25519:x' })],
    ['a key without sign', customKey({ sign: 'nope' })],
  ])('refuses a provider that gives %s', async (_name, value) => {
    await rejection(loadCurrentKey(provider(async () => value)), SignerError)
  })

  it('leaves a 64-byte check to signing: a provider key that returns 32 bytes fails in signJson', async () => {
    const key = await loadCurrentKey(
      provider(async () => customKey({ sign: async () => new Uint8Array(32) })),
    )
    await rejection(signJson({ a: 1 }, 'example.org', key), SignerError)
  })
})

describe('loadOldVerifyKeys', () => {
  it('gives the keys of a well-behaved provider', async () => {
    const keys = new MemoryKeyProvider(current, {
      oldVerifyKeys: [{ key: OLD_KEY_TEXT, expired_ts: 1 }],
    })
    expect((await loadOldVerifyKeys(keys)).map((key) => key.keyId)).toEqual(['ed25519:previous'])
  })

  it('wraps a provider that fails', async () => {
    const cause = new Error('down')
    const error = await rejection(
      loadOldVerifyKeys(
        provider(
          async () => current,
          () => Promise.reject(cause),
        ),
      ),
      SignerError,
    )
    expect(error.cause).toBe(cause)
  })

  it.each([
    ['something that is not a list', { length: 0 }],
    ['a list holding nothing', [undefined]],
    [
      'a key with a malformed id',
      [{ keyId: 'ed25519:', bytes: new Uint8Array(32), expired_ts: 1 }],
    ],
    ['a key of 33 bytes', [{ keyId: 'ed25519:1', bytes: new Uint8Array(33), expired_ts: 1 }]],
    ['a key without bytes', [{ keyId: 'ed25519:1', expired_ts: 1 }]],
  ])('refuses a provider that gives %s', async (_name, value) => {
    await rejection(
      loadOldVerifyKeys(
        provider(
          async () => current,
          async () => value,
        ),
      ),
      SignerError,
    )
  })
})
