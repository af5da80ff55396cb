import { describeType } from '../matrix/base64.js'
import { KeyFormatError, SignerError } from '../matrix/errors.js'
import { readSigningKeys } from '../matrix/key-file.js'
import {
  assertSigningKey,
  isKeyId,
  parseVerifyKey,
  type SigningKey,
  type VerifyKey,
} from '../matrix/keys.js'

/** A verify key the server no longer signs with, and when it stopped (ms since the epoch). */
export interface OldVerifyKey extends VerifyKey {
  /** When the key expired, in milliseconds since the epoch, as in Synapse's `old_signing_keys`. */
  readonly expired_ts: number
}

/**
 * Where the server's keys come from. The current key signs; old verify keys check signatures made
 * before a rotation (the `old_key` filter of event_resign, and room versions 1 and 2). A provider may
 * keep its key remotely (KMS, HSM): `SigningKey.sign` is asynchronous.
 */
export interface KeyProvider {
  /** The key new signatures are made with. */
  currentKey(): Promise<SigningKey>
  /** Keys the server signed with before, each with the time it expired. */
  oldVerifyKeys(): Promise<OldVerifyKey[]>
}

/** How to give an old verify key: the key, or `"ed25519:<version> <base64>"`, and its expiry. */
export interface OldVerifyKeyInput {
  key: VerifyKey | string
  /** Milliseconds since the epoch. */
  expired_ts: number
}

function toOldVerifyKey(input: OldVerifyKeyInput, index: number): OldVerifyKey {
  if (typeof input !== 'object' || input === null) {
    throw new TypeError(`oldVerifyKeys[${index}] must be an object, got ${describeType(input)}`)
  }
  const key = typeof input.key === 'string' ? parseVerifyKey(input.key) : input.key
  if (typeof key?.verify !== 'function') {
    throw new TypeError(
      `oldVerifyKeys[${index}].key must be a VerifyKey or "ed25519:<version> <base64>"`,
    )
  }
  if (!isKeyId(key.keyId) || !(key.bytes instanceof Uint8Array) || key.bytes.length !== 32) {
    throw new KeyFormatError(
      `oldVerifyKeys[${index}].key must be a 32-byte verify key with an id ed25519:<version>`,
    )
  }
  if (!Number.isSafeInteger(input.expired_ts) || input.expired_ts < 0) {
    throw new RangeError(`oldVerifyKeys[${index}].expired_ts must be a non-negative integer (ms)`)
  }
  const old: OldVerifyKey = Object.freeze({
    algorithm: key.algorithm,
    version: key.version,
    keyId: key.keyId,
    bytes: key.bytes,
    expired_ts: input.expired_ts,
    verify: (message: Uint8Array, signature: Uint8Array) => key.verify(message, signature),
  })
  return old
}

/** Options shared by the built-in providers. */
export interface KeyProviderOptions {
  /** Keys the server signed with before, as Synapse's `old_signing_keys` configuration lists them. */
  oldVerifyKeys?: readonly OldVerifyKeyInput[]
}

/**
 * A KeyProvider holding its keys in memory. {@link MemoryKeyProvider.rotate} changes the current key,
 * which is how tests (and hosts that load keys themselves) model a key rotation.
 */
export class MemoryKeyProvider implements KeyProvider {
  #current: SigningKey
  #old: OldVerifyKey[]

  /**
   * @throws {SignerError} when `currentKey` is not a well-formed signing key.
   * @throws {KeyFormatError} when an old verify key does not parse or is malformed.
   * @throws {TypeError} when an old verify key entry is not an object holding a key.
   * @throws {RangeError} when an old verify key's `expired_ts` is not a non-negative integer.
   */
  constructor(currentKey: SigningKey, options: KeyProviderOptions = {}) {
    assertSigningKey(currentKey, 'MemoryKeyProvider')
    this.#current = currentKey
    this.#old = (options.oldVerifyKeys ?? []).map(toOldVerifyKey)
  }

  async currentKey(): Promise<SigningKey> {
    return this.#current
  }

  async oldVerifyKeys(): Promise<OldVerifyKey[]> {
    return [...this.#old]
  }

  /** Makes `next` the current key and keeps the previous one as an old verify key. */
  rotate(next: SigningKey, expiredTs: number = Date.now()): void {
    assertSigningKey(next, 'MemoryKeyProvider.rotate')
    const previous = toOldVerifyKey({ key: this.#current.verifyKey, expired_ts: expiredTs }, 0)
    this.#old = [...this.#old.filter((key) => key.keyId !== previous.keyId), previous]
    this.#current = next
  }
}

/**
 * A KeyProvider over the text of a Synapse signing key file: its first key is the current key, as in
 * Synapse. Old verify keys are given separately, as Synapse takes them from its configuration. Read
 * the file with `readSigningKeyFile` from `matrix-background-updates/node`, or by any other means.
 */
export class SigningKeyFileProvider implements KeyProvider {
  readonly #keys: SigningKey[]
  readonly #old: OldVerifyKey[]

  /**
   * @throws {KeyFileError} for a malformed line (by number, without the seed).
   * @throws {SignerError} when the file holds no key.
   */
  constructor(text: string, options: KeyProviderOptions = {}) {
    this.#keys = readSigningKeys(text)
    if (this.#keys.length === 0) throw new SignerError('the signing key file holds no key')
    this.#old = (options.oldVerifyKeys ?? []).map(toOldVerifyKey)
  }

  async currentKey(): Promise<SigningKey> {
    return this.#keys[0] as SigningKey
  }

  async oldVerifyKeys(): Promise<OldVerifyKey[]> {
    return [...this.#old]
  }
}

/**
 * Asks a provider for its current key and checks it: a well-formed `ed25519:<version>` key id that
 * agrees with its verify key. Never trust a plugged-in provider blindly.
 *
 * @throws {SignerError} when the provider fails or returns something unusable.
 */
export async function loadCurrentKey(provider: KeyProvider): Promise<SigningKey> {
  let key: unknown
  try {
    key = await provider.currentKey()
  } catch (error) {
    throw new SignerError('the key provider failed to give its current key', { cause: error })
  }
  assertSigningKey(key, 'the key provider')
  return key
}

/**
 * Asks a provider for its old verify keys and checks them.
 *
 * @throws {SignerError} when the provider fails or returns something unusable.
 */
export async function loadOldVerifyKeys(provider: KeyProvider): Promise<OldVerifyKey[]> {
  let keys: unknown
  try {
    keys = await provider.oldVerifyKeys()
  } catch (error) {
    throw new SignerError('the key provider failed to give its old verify keys', { cause: error })
  }
  if (!Array.isArray(keys))
    throw new SignerError('the key provider gave old verify keys that are not a list')
  for (const key of keys as Partial<OldVerifyKey>[]) {
    if (
      !/^ed25519:[a-zA-Z0-9_]+$/.test(String(key?.keyId)) ||
      !(key.bytes instanceof Uint8Array) ||
      key.bytes.length !== 32
    ) {
      throw new SignerError(
        'the key provider gave an old verify key that is not a 32-byte ed25519 key',
      )
    }
  }
  return keys as OldVerifyKey[]
}
