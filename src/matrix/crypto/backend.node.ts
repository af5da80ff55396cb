import * as nodeCrypto from 'node:crypto'
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  sign as nodeSign,
  verify as nodeVerify,
} from 'node:crypto'
import { pureSign, pureVerify } from './pure.js'
import { pluggedIn, selectedSigningBackend } from './selection.js'

/**
 * The crypto backend of the `node` build (Node, Bun and Deno resolve the `node` export condition):
 * node:crypto for everything. Hashing is synchronous; signatures are made and checked on libuv's
 * thread pool (node:crypto copies the message first), so that signatures in flight together use
 * every core.
 */
export const backendName = 'node:crypto'

/** Signs; synchronously where the backend does (a plugged-in libsodium, or pure JavaScript). */
export type Signer = (message: Uint8Array) => Uint8Array | Promise<Uint8Array>
export type Verifier = (message: Uint8Array, signature: Uint8Array) => Promise<boolean>

// DER prefixes of an Ed25519 private key (PKCS #8) and public key (SPKI), RFC 8410.
const PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
])
const SPKI_PREFIX = Uint8Array.from([
  0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
])

function withPrefix(prefix: Uint8Array, bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(prefix.length + bytes.length)
  out.set(prefix)
  out.set(bytes, prefix.length)
  return out
}

function privateKeyObject(seed: Uint8Array): KeyObject {
  return createPrivateKey({
    key: Buffer.from(withPrefix(PKCS8_PREFIX, seed)),
    format: 'der',
    type: 'pkcs8',
  })
}

function publicKeyObject(publicKey: Uint8Array): KeyObject {
  return createPublicKey({
    key: Buffer.from(withPrefix(SPKI_PREFIX, publicKey)),
    format: 'der',
    type: 'spki',
  })
}

function plain(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
}

// One-shot hashing straight to text: no Buffer is made for the digest, which costs more than the
// hash itself for an event.
const oneShotText = (
  nodeCrypto as {
    hash?: (
      algorithm: string,
      data: Uint8Array | string,
      encoding: 'base64' | 'base64url',
    ) => string
  }
).hash

/**
 * SHA-256 of bytes, or of a well-formed string's UTF-8 bytes, as unpadded base64: the standard
 * alphabet, or the URL-safe one with `urlSafe`.
 */
export function sha256Base64(data: Uint8Array | string, urlSafe: boolean): string {
  const encoding = urlSafe ? 'base64url' : 'base64'
  const text =
    oneShotText !== undefined
      ? oneShotText('sha256', data, encoding)
      : createHash('sha256').update(data).digest(encoding)
  // Node writes base64url unpadded already; a SHA-256 digest in base64 ends with one '='.
  return text.endsWith('=') ? text.slice(0, -1) : text
}

/**
 * Unpadded standard base64 of a signature, as it goes into an event: Node's own encoder, which
 * writes the text in one piece (the JavaScript one builds it 4 characters at a time).
 */
export function signatureBase64(bytes: Uint8Array): string {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
  // A 64-byte signature ends with two '='; other lengths with none or one.
  return text.endsWith('=') ? text.slice(0, text.endsWith('==') ? -2 : -1) : text
}

export function ed25519PublicKey(seed: Uint8Array): Uint8Array {
  const spki = createPublicKey(privateKeyObject(seed)).export({ format: 'der', type: 'spki' })
  return plain(spki).slice(SPKI_PREFIX.length)
}

/**
 * A signer for one key; the KeyObject is created on first use and then reused. A plugged-in
 * backend's answer is passed on as it comes, so a synchronous one (libsodium) stays synchronous.
 */
export function createSigner(seed: Uint8Array, publicKey: Uint8Array): Signer {
  const ownSeed = seed.slice()
  let key: KeyObject | undefined
  const plugged = pluggedIn((backend) => backend.createSigner(ownSeed, publicKey))

  return (message) => {
    const sign = plugged()
    if (sign !== undefined) return sign(message)
    if (selectedSigningBackend() === 'pure-js') return pureSign(ownSeed, message)
    key ??= privateKeyObject(ownSeed)
    return signOnThreadPool(message, key)
  }
}

/**
 * node:crypto's Ed25519 with a callback, which runs on libuv's thread pool: events in flight at
 * once are signed on every core while the event loop prepares the next ones.
 */
function signOnThreadPool(message: Uint8Array, key: KeyObject): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    nodeSign(null, message, key, (error, signature) => {
      if (error) reject(error)
      else resolve(plain(signature))
    })
  })
}

/** Verification on libuv's thread pool, as {@link signOnThreadPool}; false when it cannot run. */
function verifyOnThreadPool(
  message: Uint8Array,
  key: KeyObject,
  signature: Uint8Array,
): Promise<boolean> {
  return new Promise((resolve) => {
    try {
      nodeVerify(null, message, key, signature, (error, valid) => resolve(!error && valid))
    } catch {
      resolve(false)
    }
  })
}

/** A verifier for one public key; false for a signature that does not verify or a bad key. */
export function createVerifier(publicKey: Uint8Array): Verifier {
  const ownKey = publicKey.slice()
  let key: KeyObject | undefined
  const plugged = pluggedIn((backend) => backend.createVerifier(ownKey))

  return async (message, signature) => {
    if (signature.length !== 64) return false
    const verify = plugged()
    if (verify !== undefined) return (await verify(message, signature)) === true
    if (selectedSigningBackend() === 'pure-js') return pureVerify(ownKey, signature, message)
    try {
      key ??= publicKeyObject(ownKey)
    } catch {
      return false
    }
    return verifyOnThreadPool(message, key, signature)
  }
}
