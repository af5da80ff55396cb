import type { SigningBackend } from 'matrix-background-updates'
import { loadSodium, sodiumSecretKey } from './sodium-binding.js'

/**
 * Ed25519 by libsodium through sodium-native, on the calling thread: about twice node:crypto's
 * signatures per second on one core (docs/performance.md). Ed25519 is deterministic, so its
 * signatures are byte for byte those of node:crypto, WebCrypto and noble.
 *
 * sodium-native is loaded when a key first signs or verifies, not when this module loads.
 *
 * @example
 * import { selectSigningBackend } from 'matrix-background-updates'
 * import { sodiumSigningBackend } from 'matrix-background-updates/sodium'
 *
 * selectSigningBackend(sodiumSigningBackend)
 */
export const sodiumSigningBackend: SigningBackend = {
  name: 'sodium-native',

  createSigner(seed, publicKey) {
    const sodium = loadSodium()
    const secretKey = sodiumSecretKey(seed, publicKey)
    return (message) => {
      const signature = new Uint8Array(64)
      sodium.crypto_sign_detached(signature, message, secretKey)
      return signature
    }
  },

  createVerifier(publicKey) {
    const sodium = loadSodium()
    const key = publicKey.slice()
    return (message, signature) => {
      try {
        return sodium.crypto_sign_verify_detached(signature, message, key)
      } catch {
        return false
      }
    }
  },
}
