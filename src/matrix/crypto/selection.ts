/** Which Ed25519 implementation signs and verifies. */
export type SigningBackendName = 'native' | 'pure-js'

let selected: SigningBackendName = 'native'

/**
 * Chooses the Ed25519 implementation for signing and verification from now on. `native` (the default)
 * is node:crypto on Node, Bun and Deno, and WebCrypto elsewhere, falling back to pure JavaScript where
 * the runtime has no native Ed25519. `pure-js` forces the noble implementation, ~10× slower.
 *
 * @throws {TypeError} for any other name.
 */
export function selectSigningBackend(name: SigningBackendName): void {
  if (name !== 'native' && name !== 'pure-js') {
    throw new TypeError(`signing backend must be 'native' or 'pure-js', got ${String(name)}`)
  }
  selected = name
}

/** @internal */
export function selectedSigningBackend(): SigningBackendName {
  return selected
}
