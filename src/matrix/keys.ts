import { decodeBase64, describeType, encodeBase64 } from './base64.js'
import {
  createSigner,
  createVerifier,
  ed25519PublicKey,
  type Signer,
  type Verifier,
} from './crypto/backend.js'
import { KeyFormatError, SignerError } from './errors.js'

/** The only signing algorithm Matrix defines. */
export type KeyAlgorithm = 'ed25519'

/** A public key that checks signatures, known by its key id `ed25519:<version>`. */
export interface VerifyKey {
  readonly algorithm: KeyAlgorithm
  /** The part of the key id after `ed25519:`, matching `[a-zA-Z0-9_]+`. */
  readonly version: string
  /** `ed25519:<version>`, the name under which signatures by this key are stored. */
  readonly keyId: string
  /** The 32-byte Ed25519 public key. */
  readonly bytes: Uint8Array
  /** Resolves true when `signature` is a valid signature of `message` by this key. */
  verify(message: Uint8Array, signature: Uint8Array): Promise<boolean>
}

/**
 * A key that signs, locally or remotely (KMS, HSM). `sign` is asynchronous so a remote signer fits; the
 * library checks that what it returns is a 64-byte signature.
 */
export interface SigningKey {
  readonly algorithm: KeyAlgorithm
  readonly version: string
  readonly keyId: string
  readonly verifyKey: VerifyKey
  /** Signs `message` and resolves the 64-byte Ed25519 signature. */
  sign(message: Uint8Array): Promise<Uint8Array>
}

const VERSION = /^[a-zA-Z0-9_]+$/
const KEY_ID = /^ed25519:[a-zA-Z0-9_]+$/
const inspect = Symbol.for('nodejs.util.inspect.custom')

/** @throws {KeyFormatError} for an algorithm other than ed25519. */
export function assertAlgorithm(algorithm: unknown): asserts algorithm is KeyAlgorithm {
  if (algorithm !== 'ed25519') {
    const shown =
      typeof algorithm === 'string'
        ? JSON.stringify(algorithm.slice(0, 32))
        : describeType(algorithm)
    throw new KeyFormatError(`unsupported key algorithm ${shown}: only ed25519 is defined`)
  }
}

/** @throws {KeyFormatError} for a key version outside `[a-zA-Z0-9_]+`. */
export function assertKeyVersion(version: unknown): asserts version is string {
  if (typeof version !== 'string' || !VERSION.test(version)) {
    throw new KeyFormatError('key version must match [a-zA-Z0-9_]+')
  }
}

/** Whether `keyId` is a well-formed `ed25519:<version>` key id. */
export function isKeyId(keyId: unknown): keyId is string {
  return typeof keyId === 'string' && KEY_ID.test(keyId)
}

function assertLength(bytes: Uint8Array, expected: number, label: string): void {
  if (bytes.length !== expected) {
    throw new KeyFormatError(`${label} must be ${expected} bytes, got ${bytes.length}`)
  }
}

function decodeKeyBase64(text: unknown, label: string): Uint8Array {
  if (typeof text !== 'string') throw new KeyFormatError(`${label} must be base64 text`)
  try {
    return decodeBase64(text)
  } catch {
    throw new KeyFormatError(`${label} is not valid base64`)
  }
}

class Ed25519VerifyKey implements VerifyKey {
  readonly algorithm = 'ed25519'
  readonly version: string
  readonly keyId: string
  readonly bytes: Uint8Array
  readonly #verifier: Verifier

  constructor(version: string, bytes: Uint8Array) {
    this.version = version
    this.keyId = `ed25519:${version}`
    this.bytes = bytes.slice()
    this.#verifier = createVerifier(this.bytes)
  }

  verify(message: Uint8Array, signature: Uint8Array): Promise<boolean> {
    if (!(message instanceof Uint8Array) || !(signature instanceof Uint8Array)) {
      return Promise.reject(new TypeError('message and signature must be Uint8Arrays'))
    }
    return this.#verifier(message, signature)
  }

  toJSON(): { keyId: string; key: string } {
    return { keyId: this.keyId, key: encodeBase64(this.bytes) }
  }
}

/** An Ed25519SigningKey's own signer, synchronous where its backend is; set by the class. */
let signNow: (key: Ed25519SigningKey, message: Uint8Array) => Uint8Array | Promise<Uint8Array>

/**
 * A local Ed25519 signing key held in memory. Its seed is private: it is not an enumerable property,
 * and neither `JSON.stringify` nor Node's `inspect` shows it; only {@link Ed25519SigningKey.encode}
 * returns it, for writing a key file.
 */
export class Ed25519SigningKey implements SigningKey {
  readonly algorithm = 'ed25519'
  readonly version: string
  readonly keyId: string
  readonly verifyKey: VerifyKey
  readonly #seed: Uint8Array
  readonly #signer: Signer

  static {
    signNow = (key, message) => key.#signer(message)
  }

  /**
   * @param version the key version, `[a-zA-Z0-9_]+`.
   * @param seed the 32-byte Ed25519 seed.
   * @throws {KeyFormatError} for a bad version or a seed of the wrong length.
   */
  constructor(version: string, seed: Uint8Array) {
    assertKeyVersion(version)
    if (!(seed instanceof Uint8Array)) throw new TypeError('seed must be a Uint8Array')
    assertLength(seed, 32, 'an ed25519 seed')

    this.version = version
    this.keyId = `ed25519:${version}`
    this.#seed = seed.slice()
    const publicKey = ed25519PublicKey(this.#seed)
    this.verifyKey = new Ed25519VerifyKey(version, publicKey)
    this.#signer = createSigner(this.#seed, publicKey)
  }

  async sign(message: Uint8Array): Promise<Uint8Array> {
    if (!(message instanceof Uint8Array)) throw new TypeError('message must be a Uint8Array')
    return this.#signer(message)
  }

  /** A copy of the 32-byte seed, as a Synapse key file stores it. Handle it as a secret. */
  encode(): Uint8Array {
    return this.#seed.slice()
  }

  toJSON(): { keyId: string; verifyKey: string } {
    return { keyId: this.keyId, verifyKey: encodeBase64(this.verifyKey.bytes) }
  }

  [inspect](): string {
    return `Ed25519SigningKey { keyId: '${this.keyId}' }`
  }
}

/**
 * Generates a new random Ed25519 signing key with the given version (key id `ed25519:<version>`).
 *
 * @throws {KeyFormatError} for a version outside `[a-zA-Z0-9_]+`.
 */
export function generateSigningKey(version: string): Ed25519SigningKey {
  assertKeyVersion(version)
  return new Ed25519SigningKey(version, globalThis.crypto.getRandomValues(new Uint8Array(32)))
}

/**
 * Decodes a signing key from its base64 seed, as stored in a Synapse signing key file.
 *
 * @throws {KeyFormatError} for an algorithm other than ed25519, a bad version, text that is not
 *   base64 or a seed that is not 32 bytes. The message never contains the seed.
 */
export function decodeSigningKeyBase64(
  algorithm: string,
  version: string,
  seedBase64: string,
): Ed25519SigningKey {
  assertAlgorithm(algorithm)
  assertKeyVersion(version)
  return new Ed25519SigningKey(version, decodeKeyBase64(seedBase64, 'the seed'))
}

/** The verify (public) key of a signing key. */
export function getVerifyKey(signingKey: SigningKey): VerifyKey {
  if (typeof signingKey !== 'object' || signingKey === null || !('verifyKey' in signingKey)) {
    throw new TypeError(`signingKey must be a SigningKey, got ${describeType(signingKey)}`)
  }
  return signingKey.verifyKey
}

/** The unpadded base64 of a verify key's 32 bytes, as published in `/_matrix/key/v2/server`. */
export function encodeVerifyKeyBase64(verifyKey: VerifyKey): string {
  if (
    typeof verifyKey !== 'object' ||
    verifyKey === null ||
    !(verifyKey.bytes instanceof Uint8Array)
  ) {
    throw new TypeError(`verifyKey must be a VerifyKey, got ${describeType(verifyKey)}`)
  }
  return encodeBase64(verifyKey.bytes)
}

/**
 * Builds a verify key from its algorithm, version and base64 public key.
 *
 * @throws {KeyFormatError} for an algorithm other than ed25519, a bad version, text that is not base64
 *   or a key that is not 32 bytes.
 */
export function decodeVerifyKeyBase64(
  algorithm: string,
  version: string,
  keyBase64: string,
): VerifyKey {
  assertAlgorithm(algorithm)
  assertKeyVersion(version)
  const bytes = decodeKeyBase64(keyBase64, 'the verify key')
  assertLength(bytes, 32, 'an ed25519 verify key')
  return new Ed25519VerifyKey(version, bytes)
}

/**
 * Parses `"ed25519:<version> <base64 key>"`, the format of the admin API's `old_key` parameter and of
 * Synapse's `old_signing_keys` entries written on one line.
 *
 * @throws {KeyFormatError} when the text does not have that shape or its parts are malformed.
 */
export function parseVerifyKey(text: string): VerifyKey {
  if (typeof text !== 'string') {
    throw new KeyFormatError(`a verify key must be text, got ${describeType(text)}`)
  }
  const parts = text.trim().split(/\s+/)
  if (parts.length !== 2) {
    throw new KeyFormatError('a verify key must be written as "ed25519:<version> <base64 key>"')
  }

  const [keyId, keyBase64] = parts as [string, string]
  const colon = keyId.indexOf(':')
  if (colon < 0) throw new KeyFormatError('a key id must be written as "<algorithm>:<version>"')
  return decodeVerifyKeyBase64(keyId.slice(0, colon), keyId.slice(colon + 1), keyBase64)
}

function signingFailed(signingKey: SigningKey, error: unknown): SignerError {
  return new SignerError(`signing key ${String(signingKey.keyId)} failed to sign`, { cause: error })
}

/**
 * Calls a signer and checks what it returns, so a misbehaving remote signer cannot put garbage into
 * an event.
 *
 * @throws {SignerError} when the signer fails or returns anything but 64 bytes.
 */
export async function signWith(signingKey: SigningKey, message: Uint8Array): Promise<Uint8Array> {
  let signature: unknown
  try {
    signature = await signingKey.sign(message)
  } catch (error) {
    throw signingFailed(signingKey, error)
  }
  return checkedSignature(signingKey, signature)
}

/**
 * {@link signWith}, but synchronous when the key is an {@link Ed25519SigningKey} whose backend
 * signs synchronously (sodium-native, pure JavaScript): a batch of such events then runs through
 * without a promise per event. Any other key, and a subclass with its own `sign`, goes through
 * `sign` as before.
 *
 * @throws {SignerError} as {@link signWith}, synchronously or as a rejection.
 * @internal
 */
export function signWithNow(
  signingKey: SigningKey,
  message: Uint8Array,
): Uint8Array | Promise<Uint8Array> {
  if (
    !(signingKey instanceof Ed25519SigningKey) ||
    signingKey.sign !== Ed25519SigningKey.prototype.sign
  ) {
    return signWith(signingKey, message)
  }
  let signature: Uint8Array | Promise<Uint8Array>
  try {
    signature = signNow(signingKey, message)
  } catch (error) {
    throw signingFailed(signingKey, error)
  }
  if (signature instanceof Uint8Array) return checkedSignature(signingKey, signature)
  return Promise.resolve(signature).then(
    (value) => checkedSignature(signingKey, value),
    (error: unknown) => {
      throw signingFailed(signingKey, error)
    },
  )
}

function checkedSignature(signingKey: SigningKey, signature: unknown): Uint8Array {
  if (!(signature instanceof Uint8Array) || signature.length !== 64) {
    const got =
      signature instanceof Uint8Array ? `${signature.length} bytes` : describeType(signature)
    throw new SignerError(
      `signing key ${String(signingKey.keyId)} returned ${got}, not a 64-byte signature`,
    )
  }
  return signature
}

/**
 * Checks that an object from a provider is a usable signing key: a well-formed `ed25519:<version>` key
 * id that agrees with its verify key, and a `sign` function.
 *
 * @throws {SignerError} naming what is wrong.
 */
export function assertSigningKey(value: unknown, source: string): asserts value is SigningKey {
  const key = value as Partial<SigningKey> | null
  if (typeof key !== 'object' || key === null || typeof key.sign !== 'function') {
    throw new SignerError(`${source} returned ${describeType(value)}, not a signing key`)
  }
  if (!isKeyId(key.keyId)) {
    throw new SignerError(`${source} returned a key whose id is not of the form ed25519:<version>`)
  }
  const verifyKey = key.verifyKey
  if (verifyKey?.keyId !== key.keyId || !(verifyKey.bytes instanceof Uint8Array)) {
    throw new SignerError(`${source} returned key ${key.keyId} without a matching verify key`)
  }
  if (verifyKey.bytes.length !== 32) {
    throw new SignerError(`${source} returned key ${key.keyId} whose verify key is not 32 bytes`)
  }
}
