import * as ed from '@noble/ed25519'
import { sha256 as nobleSha256, sha512 } from '@noble/hashes/sha2.js'

/**
 * Pure-JavaScript Ed25519 and SHA-256 from the audited noble libraries. The synchronous paths of the
 * `default` build use them (WebCrypto has no synchronous API), and signing falls back to them where a
 * runtime has no native Ed25519 or when `selectSigningBackend('pure-js')` asks for it.
 */
function noble(): typeof ed {
  // The library keeps its SHA-512 in a settable slot; fill it on first use, not at import time.
  if (ed.hashes.sha512 === undefined) ed.hashes.sha512 = sha512
  return ed
}

export function pureSha256(data: Uint8Array): Uint8Array {
  return nobleSha256(data)
}

export function purePublicKey(seed: Uint8Array): Uint8Array {
  return noble().getPublicKey(seed)
}

export function pureSign(seed: Uint8Array, message: Uint8Array): Uint8Array {
  return noble().sign(message, seed)
}

export function pureVerify(
  publicKey: Uint8Array,
  signature: Uint8Array,
  message: Uint8Array,
): boolean {
  try {
    return noble().verify(signature, message, publicKey)
  } catch {
    return false
  }
}
