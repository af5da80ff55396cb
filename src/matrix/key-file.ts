import { decodeBase64, encodeBase64 } from './base64.js'
import { KeyFileError } from './errors.js'
import { Ed25519SigningKey } from './keys.js'

const VERSION = /^[a-zA-Z0-9_]+$/

function parseLine(line: string, number: number): Ed25519SigningKey {
  const parts = line.trim().split(/\s+/)
  if (parts.length !== 3) {
    throw new KeyFileError(
      number,
      `expected "ed25519 <version> <base64 seed>", found ${parts.length} fields`,
    )
  }

  const [algorithm, version, seedBase64] = parts as [string, string, string]
  if (algorithm !== 'ed25519') throw new KeyFileError(number, 'the algorithm must be ed25519')
  if (!VERSION.test(version))
    throw new KeyFileError(number, 'the key version must match [a-zA-Z0-9_]+')

  let seed: Uint8Array
  try {
    seed = decodeBase64(seedBase64)
  } catch {
    throw new KeyFileError(number, 'the seed is not valid base64')
  }
  if (seed.length !== 32)
    throw new KeyFileError(number, `the seed must be 32 bytes, got ${seed.length}`)
  return new Ed25519SigningKey(version, seed)
}

/**
 * Reads the text of a Synapse signing key file: one `ed25519 <version> <base64 seed>` per line, blank
 * lines ignored. The first key is the server's current key, as in Synapse.
 *
 * @throws {TypeError} when `text` is not a string.
 * @throws {KeyFileError} for a malformed line or a repeated key id, with its line number; the message
 *   never contains the seed.
 */
export function readSigningKeys(text: string): Ed25519SigningKey[] {
  if (typeof text !== 'string') throw new TypeError('the key file text must be a string')

  const keys: Ed25519SigningKey[] = []
  const seen = new Set<string>()
  const lines = text.split(/\r?\n/)

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string
    if (line.trim() === '') continue
    const key = parseLine(line, i + 1)
    if (seen.has(key.keyId)) throw new KeyFileError(i + 1, `key id ${key.keyId} appears twice`)
    seen.add(key.keyId)
    keys.push(key)
  }
  return keys
}

/**
 * Writes signing keys in Synapse's key file format, one `ed25519 <version> <base64 seed>` line each,
 * the current key first. The result holds secrets: store it readable by its owner (and group) only.
 *
 * @throws {TypeError} when a key is not a local key with a seed (a remote key cannot be written).
 */
export function writeSigningKeys(keys: readonly Ed25519SigningKey[]): string {
  if (!Array.isArray(keys)) throw new TypeError('keys must be an array of signing keys')
  return keys
    .map((key, index) => {
      if (!(key instanceof Ed25519SigningKey)) {
        throw new TypeError(`keys[${index}] is not a local Ed25519SigningKey with a seed`)
      }
      return `ed25519 ${key.version} ${encodeBase64(key.encode())}\n`
    })
    .join('')
}
