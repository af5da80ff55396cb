/**
 * `matrix-background-updates/sodium`: Ed25519 by libsodium through sodium-native, an optional peer
 * dependency that only this entry loads (Node only). `selectSigningBackend(sodiumSigningBackend)`
 * signs and verifies with libsodium on the calling thread; `sodiumWorkerBackend({ threads })` does
 * both on worker threads, and `sodiumWorkerSigningKey(key, { threads })` only one key's signing.
 * See docs/performance.md.
 *
 * @module
 */
export { sodiumSigningBackend } from './sodium-backend.js'
export type {
  SodiumWorkerBackend,
  SodiumWorkerOptions,
  SodiumWorkerSigningKey,
} from './sodium-worker-key.js'
export { sodiumWorkerBackend, sodiumWorkerSigningKey } from './sodium-worker-key.js'
