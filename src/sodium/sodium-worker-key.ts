import type { Ed25519SigningKey, SigningBackend, SigningKey } from 'matrix-background-updates'
import { sodiumSecretKey } from './sodium-binding.js'
import { SodiumWorkerPool, type WorkerPoolOptions } from './sodium-worker-pool.js'

/** How to build a {@link sodiumWorkerSigningKey} or a {@link sodiumWorkerBackend}. */
export interface SodiumWorkerOptions extends WorkerPoolOptions {}

/** A signing key whose signatures are made on worker threads; close it when done. */
export interface SodiumWorkerSigningKey extends SigningKey {
  /** Stops the workers; signatures still in flight reject. Signing afterwards rejects. */
  close(): Promise<void>
}

/** A signing backend whose signing and verification run on worker threads; close it when done. */
export interface SodiumWorkerBackend extends SigningBackend {
  /** Stops the workers; work in flight rejects, and so does later work. */
  close(): Promise<void>
}

/**
 * A signing key that signs with libsodium on worker threads, so that re-signing uses more than
 * the event loop's core: the event loop prepares events (canonical JSON, hashes, the safety rule)
 * while the workers sign. Signatures are byte for byte those of `key` (Ed25519 is deterministic).
 * Give it to a KeyProvider as the current key, and raise the re-signer's `concurrency` so that
 * enough signatures are in flight to keep the workers busy.
 *
 * The seed is copied into the workers' memory. Idle workers do not keep the process alive; call
 * `close()` when the key is no longer used.
 *
 * @throws {RangeError} for `threads` or `chunkSize` that is not a positive integer.
 * @throws {Error} when sodium-native is not installed.
 * @example
 * const current = sodiumWorkerSigningKey(decodeSigningKeyBase64('ed25519', 'b', seed), {
 *   threads: 1,
 * })
 * const keyProvider = new MemoryKeyProvider(current, { oldVerifyKeys })
 * runner.registerJob(eventResignJob({ serverName, keyProvider, concurrency: 64 }))
 */
export function sodiumWorkerSigningKey(
  key: Ed25519SigningKey,
  options: SodiumWorkerOptions = {},
): SodiumWorkerSigningKey {
  const pool = new SodiumWorkerPool(options)
  const sign = pool.signer(sodiumSecretKey(key.encode(), key.verifyKey.bytes))

  return {
    algorithm: 'ed25519',
    version: key.version,
    keyId: key.keyId,
    verifyKey: key.verifyKey,
    sign: (message) => sign(message),
    close: () => pool.close(),
  }
}

/**
 * A {@link SigningBackend} that signs and verifies with libsodium on worker threads, for every key
 * of the process once selected: the `old_key` filter's checks and the proofs of version 1 and 2
 * events run there too. Results are those of every other backend (Ed25519 is deterministic).
 * A worker keeps a copy of each key it has used until the key's signer or verifier is garbage
 * collected, or the backend closed.
 *
 * @throws {RangeError} for `threads` or `chunkSize` that is not a positive integer.
 * @throws {Error} when sodium-native is not installed.
 * @example
 * const backend = sodiumWorkerBackend({ threads: 2 })
 * selectSigningBackend(backend)
 * // … and when done: selectSigningBackend('native'); await backend.close()
 */
export function sodiumWorkerBackend(options: SodiumWorkerOptions = {}): SodiumWorkerBackend {
  const pool = new SodiumWorkerPool(options)
  return {
    name: 'sodium-native on worker threads',
    createSigner: (seed, publicKey) => pool.signer(sodiumSecretKey(seed, publicKey)),
    createVerifier: (publicKey) => pool.verifier(publicKey),
    close: () => pool.close(),
  }
}
