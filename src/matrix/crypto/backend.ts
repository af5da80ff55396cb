import { encodeBase64, encodeBase64UrlSafe } from '../base64.js'
import { purePublicKey, pureSha256, pureSign, pureVerify } from './pure.js'
import { pluggedIn, selectedSigningBackend } from './selection.js'

/**
 * The crypto backend of the `default` build: WebCrypto Ed25519 for signing and verification, the
 * noble libraries for what must be synchronous. The `node` build replaces this module with
 * backend.node.ts, which has the same exports.
 */
export const backendName = 'webcrypto'

/** Signs; synchronously where the backend does (a plugged-in libsodium, or pure JavaScript). */
export type Signer = (message: Uint8Array) => Uint8Array | Promise<Uint8Array>
export type Verifier = (message: Uint8Array, signature: Uint8Array) => Promise<boolean>

const utf8 = new TextEncoder()

/**
 * SHA-256 of bytes, or of a well-formed string's UTF-8 bytes, as unpadded base64: the standard
 * alphabet, or the URL-safe one with `urlSafe`.
 */
export function sha256Base64(data: Uint8Array | string, urlSafe: boolean): string {
  const digest = pureSha256(typeof data === 'string' ? utf8.encode(data) : data)
  return urlSafe ? encodeBase64UrlSafe(digest) : encodeBase64(digest)
}
export const ed25519PublicKey: (seed: Uint8Array) => Uint8Array = purePublicKey

/** Unpadded standard base64 of a signature, as it goes into an event: the JavaScript encoder. */
export const signatureBase64: (bytes: Uint8Array) => string = encodeBase64

let nativeSupport: Promise<boolean> | undefined

function subtle(): SubtleCrypto | undefined {
  return globalThis.crypto?.subtle
}

/** Whether this runtime's WebCrypto does Ed25519; probed once with a throwaway key. */
function hasNativeEd25519(): Promise<boolean> {
  nativeSupport ??= (async () => {
    try {
      const api = subtle()
      if (api === undefined) return false
      const seed = new Uint8Array(32)
      await importPrivate(api, seed, purePublicKey(seed))
      return true
    } catch {
      return false
    }
  })()
  return nativeSupport
}

function toBase64Url(bytes: Uint8Array): string {
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

function importPrivate(api: SubtleCrypto, seed: Uint8Array, publicKey: Uint8Array) {
  const jwk = { kty: 'OKP', crv: 'Ed25519', d: toBase64Url(seed), x: toBase64Url(publicKey) }
  return api.importKey('jwk', jwk, { name: 'Ed25519' }, false, ['sign'])
}

function importPublic(api: SubtleCrypto, publicKey: Uint8Array) {
  return api.importKey('raw', publicKey as BufferSource, { name: 'Ed25519' }, false, ['verify'])
}

async function useNative(): Promise<boolean> {
  return selectedSigningBackend() === 'native' && (await hasNativeEd25519())
}

/**
 * A signer for one key; the native key object is created on first use and then reused. A plugged-in
 * backend's answer is passed on as it comes, so a synchronous one (libsodium) stays synchronous.
 */
export function createSigner(seed: Uint8Array, publicKey: Uint8Array): Signer {
  const ownSeed = seed.slice()
  let key: Promise<CryptoKey> | undefined
  const plugged = pluggedIn((backend) => backend.createSigner(ownSeed, publicKey))
  const builtIn = async (message: Uint8Array) => {
    const api = subtle()
    if (api === undefined || !(await useNative())) return pureSign(ownSeed, message)
    key ??= importPrivate(api, ownSeed, publicKey)
    return new Uint8Array(await api.sign({ name: 'Ed25519' }, await key, message as BufferSource))
  }

  return (message) => {
    const sign = plugged()
    return sign !== undefined ? sign(message) : builtIn(message)
  }
}

/** A verifier for one public key; false for a signature that does not verify or a bad key. */
export function createVerifier(publicKey: Uint8Array): Verifier {
  const ownKey = publicKey.slice()
  let key: Promise<CryptoKey> | undefined
  const plugged = pluggedIn((backend) => backend.createVerifier(ownKey))

  return async (message, signature) => {
    if (signature.length !== 64) return false
    const verify = plugged()
    if (verify !== undefined) return (await verify(message, signature)) === true
    const api = subtle()
    if (api === undefined || !(await useNative())) return pureVerify(ownKey, signature, message)
    try {
      key ??= importPublic(api, ownKey)
      return await api.verify(
        { name: 'Ed25519' },
        await key,
        signature as BufferSource,
        message as BufferSource,
      )
    } catch {
      return false
    }
  }
}
