import { createRequire } from 'node:module'

/** The few libsodium calls of sodium-native this entry makes; all take typed-array views. */
export interface SodiumNative {
  crypto_sign_seed_keypair(publicKey: Uint8Array, secretKey: Uint8Array, seed: Uint8Array): void
  crypto_sign_detached(signature: Uint8Array, message: Uint8Array, secretKey: Uint8Array): void
  crypto_sign_verify_detached(
    signature: Uint8Array,
    message: Uint8Array,
    publicKey: Uint8Array,
  ): boolean
}

const requireHere = createRequire(import.meta.url)
let binding: SodiumNative | undefined

/**
 * sodium-native, loaded on first use (it is an optional peer dependency).
 *
 * @throws {Error} with a remedy when it is not installed or its binary does not load.
 */
export function loadSodium(): SodiumNative {
  if (binding !== undefined) return binding
  try {
    binding = requireHere('sodium-native') as SodiumNative
  } catch (error) {
    throw new Error(
      'sodium-native could not be loaded; install it with `npm install sodium-native`',
      {
        cause: error,
      },
    )
  }
  return binding
}

/** Where sodium-native resolves from here, for worker threads to load the same copy. */
export function sodiumPath(): string {
  loadSodium()
  return requireHere.resolve('sodium-native')
}

/** The 64-byte libsodium secret key of a seed, checked against the public key the caller holds. */
export function sodiumSecretKey(seed: Uint8Array, publicKey: Uint8Array): Uint8Array {
  const sodium = loadSodium()
  const derived = new Uint8Array(32)
  const secretKey = new Uint8Array(64)
  sodium.crypto_sign_seed_keypair(derived, secretKey, seed)
  if (!derived.every((byte, index) => byte === publicKey[index])) {
    throw new Error('libsodium derived another public key from this seed')
  }
  return secretKey
}
