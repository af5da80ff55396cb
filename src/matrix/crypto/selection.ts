/** Which built-in Ed25519 implementation signs and verifies. */
export type SigningBackendName = 'native' | 'pure-js'

/**
 * An Ed25519 implementation plugged in from outside the root entry, such as `sodiumSigningBackend`
 * of `matrix-background-updates/sodium` (libsodium). Ed25519 is deterministic, so any correct
 * implementation gives the very signatures of the built-in ones; what a signer returns is still
 * checked to be 64 bytes before it goes into an event.
 */
export interface SigningBackend {
  /** A short name for logs and benchmarks, such as `'sodium-native'`. */
  readonly name: string
  /** A signer for one key, made once per key: `seed` is the 32-byte seed, `publicKey` its key. */
  createSigner(
    seed: Uint8Array,
    publicKey: Uint8Array,
  ): (message: Uint8Array) => Uint8Array | Promise<Uint8Array>
  /** A verifier for one 32-byte public key; true only for a signature that verifies. */
  createVerifier(
    publicKey: Uint8Array,
  ): (message: Uint8Array, signature: Uint8Array) => boolean | Promise<boolean>
}

let selected: SigningBackendName | SigningBackend = 'native'

function isSigningBackend(value: unknown): value is SigningBackend {
  const backend = value as SigningBackend | null
  return (
    typeof backend === 'object' &&
    backend !== null &&
    typeof backend.name === 'string' &&
    typeof backend.createSigner === 'function' &&
    typeof backend.createVerifier === 'function'
  )
}

/**
 * Chooses the Ed25519 implementation for signing and verification from now on, for every key of
 * the process. `native` (the default) is node:crypto on Node, Bun and Deno, and WebCrypto
 * elsewhere, falling back to pure JavaScript where the runtime has no native Ed25519. `pure-js`
 * forces the noble implementation, ~10× slower. A {@link SigningBackend} object plugs in another
 * implementation, such as libsodium from `matrix-background-updates/sodium`.
 *
 * @throws {TypeError} for any other name or an object that is not a SigningBackend.
 * @example selectSigningBackend('pure-js')
 */
export function selectSigningBackend(backend: SigningBackendName | SigningBackend): void {
  if (backend !== 'native' && backend !== 'pure-js' && !isSigningBackend(backend)) {
    throw new TypeError(
      `signing backend must be 'native', 'pure-js' or a SigningBackend, got ${String(backend)}`,
    )
  }
  selected = backend
}

/** @internal */
export function selectedSigningBackend(): SigningBackendName | SigningBackend {
  return selected
}

/**
 * What `make` builds from the plugged-in backend, built once per backend selected (a key's
 * signer, say), or undefined while a built-in backend is selected.
 *
 * @internal
 */
export function pluggedIn<T>(make: (backend: SigningBackend) => T): () => T | undefined {
  let madeFor: SigningBackend | undefined
  let made: T | undefined

  return () => {
    if (typeof selected === 'string') return undefined
    if (madeFor !== selected) {
      made = make(selected)
      madeFor = selected
    }
    return made
  }
}
