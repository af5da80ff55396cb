import { decodeBase64, describeType, encodeBase64 } from './base64.js'
import { encodeCanonicalJsonBytes, type JsonObject } from './canonical-json.js'
import { SignerError } from './errors.js'
import type { SigningKey, VerifyKey } from './keys.js'
import { isKeyId, signWith } from './keys.js'

/** `signatures` of a signed object: entity (server name) → key id → unpadded base64 signature. */
export type Signatures = Record<string, Record<string, string>>

function assertObject(value: unknown, label: string): asserts value is JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`${label} must be a JSON object, got ${describeType(value)}`)
  }
}

/** The object without `signatures` and `unsigned`, which is what a JSON signature covers. */
export function signableJson(object: JsonObject): JsonObject {
  const { signatures: _signatures, unsigned: _unsigned, ...rest } = object
  return rest
}

/**
 * Sets an own, enumerable member. Plain assignment would not do for names from the wire: assigning
 * `__proto__` changes the prototype instead of adding a member.
 */
function setMember<T>(target: Record<string, T>, name: string, value: T): void {
  Object.defineProperty(target, name, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  })
}

/** A deep enough copy of `signatures` to add to without touching the caller's object. */
function copySignatures(value: unknown): Signatures {
  const out: Signatures = {}
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return out
  for (const [entity, keys] of Object.entries(value)) {
    if (typeof keys === 'object' && keys !== null && !Array.isArray(keys)) {
      setMember(out, entity, { ...keys })
    }
  }
  return out
}

/** @throws {SignerError} for a key whose id is not `ed25519:<version>` or that cannot sign. */
function assertUsableKey(signingKey: SigningKey): void {
  if (typeof signingKey !== 'object' || signingKey === null) {
    throw new TypeError(`signingKey must be a SigningKey, got ${describeType(signingKey)}`)
  }
  if (!isKeyId(signingKey.keyId)) {
    throw new SignerError('the signing key has an id that is not of the form ed25519:<version>')
  }
  if (typeof signingKey.sign !== 'function') {
    throw new SignerError(`signing key ${signingKey.keyId} has no sign function`)
  }
}

/**
 * Signs a JSON object as the specification's "Signing JSON" describes: the canonical JSON of the object
 * without `signatures` and `unsigned` is signed, and the signature is added under
 * `signatures[signatureName][keyId]`. Existing signatures and `unsigned` are kept.
 *
 * @param signatureName the signing entity, usually our server name.
 * @returns a new object; the input is not changed.
 * @throws {TypeError} when `object` is not a JSON object.
 * @throws {CanonicalJsonError} when the object cannot be written as canonical JSON.
 * @throws {SignerError} when the key's id is not `ed25519:<version>`, or the key fails or returns
 *   anything but a 64-byte signature.
 */
export async function signJson<T extends object>(
  object: T,
  signatureName: string,
  signingKey: SigningKey,
): Promise<T & { signatures: Signatures }> {
  assertObject(object, 'object')
  if (typeof signatureName !== 'string' || signatureName === '') {
    throw new TypeError('signatureName must be a non-empty string')
  }
  assertUsableKey(signingKey)

  const message = encodeCanonicalJsonBytes(signableJson(object))
  const signature = await signWith(signingKey, message)

  const signatures = copySignatures(object.signatures)
  const ours: Record<string, string> = {
    ...(Object.hasOwn(signatures, signatureName) ? signatures[signatureName] : {}),
  }
  setMember(ours, signingKey.keyId, encodeBase64(signature))
  setMember(signatures, signatureName, ours)
  return { ...object, signatures } as T & { signatures: Signatures }
}

/** The signature stored under `signatures[signatureName][keyId]`, if it is a string. */
export function findSignature(
  object: JsonObject,
  signatureName: string,
  keyId: string,
): string | undefined {
  const signatures = object.signatures
  if (typeof signatures !== 'object' || signatures === null || Array.isArray(signatures))
    return undefined
  if (!Object.hasOwn(signatures, signatureName)) return undefined
  const byKey = signatures[signatureName]
  if (typeof byKey !== 'object' || byKey === null || Array.isArray(byKey)) return undefined
  if (!Object.hasOwn(byKey, keyId)) return undefined
  const signature = byKey[keyId]
  return typeof signature === 'string' ? signature : undefined
}

/**
 * Checks the signature of `signatureName` by `verifyKey` on a JSON object.
 *
 * @returns a Promise of false when the signature is missing, not base64, not 64 bytes or does not
 *   verify, or when the object cannot be written as canonical JSON; true when it verifies.
 * @throws {TypeError} (as a rejection) only when `object` is not a JSON object.
 */
export async function verifySignedJson(
  object: object,
  signatureName: string,
  verifyKey: VerifyKey,
): Promise<boolean> {
  assertObject(object, 'object')
  const encoded = findSignature(object, signatureName, verifyKey.keyId)
  if (encoded === undefined) return false

  let signature: Uint8Array
  let message: Uint8Array
  try {
    signature = decodeBase64(encoded)
    message = encodeCanonicalJsonBytes(signableJson(object))
  } catch {
    return false
  }
  if (signature.length !== 64) return false
  return verifyKey.verify(message, signature)
}
