import { Base64Error } from './errors.js'

const STANDARD = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
const URL_SAFE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/** Sextet of each character code, -1 where it is no base64 digit; both alphabets at once. */
const SEXTETS = new Int8Array(128).fill(-1)
for (let i = 0; i < 64; i++) {
  SEXTETS[STANDARD.charCodeAt(i)] = i
  SEXTETS[URL_SAFE.charCodeAt(i)] = i
}

/** Every pair of digits of an alphabet, by the 12 bits they encode: two lookups per 3 bytes. */
function pairsOf(alphabet: string): string[] {
  const pairs: string[] = []
  for (let i = 0; i < 4096; i++) pairs.push(alphabet.charAt(i >> 6) + alphabet.charAt(i & 63))
  return pairs
}

const PAIRS = new Map<string, string[]>()

function encodeWith(alphabet: string, bytes: Uint8Array): string {
  let pairs = PAIRS.get(alphabet)
  if (pairs === undefined) {
    pairs = pairsOf(alphabet)
    PAIRS.set(alphabet, pairs)
  }
  let out = ''
  const whole = bytes.length - (bytes.length % 3)

  for (let i = 0; i < whole; i += 3) {
    const n =
      ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number)
    out += (pairs[n >> 12] as string) + (pairs[n & 4095] as string)
  }

  const rest = bytes.length - whole
  if (rest === 1) {
    out += pairs[(bytes[whole] as number) << 4] as string
  } else if (rest === 2) {
    const n = ((bytes[whole] as number) << 16) | ((bytes[whole + 1] as number) << 8)
    out += (pairs[n >> 12] as string) + alphabet.charAt((n >> 6) & 63)
  }
  return out
}

function assertBytes(value: unknown, label: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(`${label} must be a Uint8Array, got ${describeType(value)}`)
  }
}

/** @internal */
export function describeType(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  return typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value
}

/**
 * Encodes bytes as unpadded base64 in the standard alphabet, as the Matrix specification's
 * appendix on unpadded base64 requires for keys, signatures and hashes.
 *
 * @throws {TypeError} when `bytes` is not a Uint8Array.
 * @example encodeBase64(new Uint8Array([1, 2, 3, 4])) // 'AQIDBA'
 */
export function encodeBase64(bytes: Uint8Array): string {
  assertBytes(bytes, 'bytes')
  return encodeWith(STANDARD, bytes)
}

/** Unpadded URL-safe base64, used by event IDs from room version 4. @internal */
export function encodeBase64UrlSafe(bytes: Uint8Array): string {
  assertBytes(bytes, 'bytes')
  return encodeWith(URL_SAFE, bytes)
}

/**
 * Decodes base64, padded or unpadded, in the standard or the URL-safe alphabet (not both in one
 * text). Bits left over after the last whole byte are ignored, as other Matrix implementations do.
 *
 * @throws {TypeError} when `text` is not a string.
 * @throws {Base64Error} for a character outside the alphabets, mixed alphabets, wrong padding or a
 *   length that no byte sequence encodes to.
 */
export function decodeBase64(text: string): Uint8Array {
  if (typeof text !== 'string') {
    throw new TypeError(`base64 text must be a string, got ${describeType(text)}`)
  }

  let end = text.length
  while (end > 0 && text.charCodeAt(end - 1) === 61 /* = */) end--
  const padding = text.length - end
  if (padding > 0 && (padding > 2 || text.length % 4 !== 0)) {
    throw new Base64Error('padding does not match the length')
  }
  if (end % 4 === 1) throw new Base64Error(`length ${end} is not a possible length`)

  const out = new Uint8Array(Math.floor((end * 3) / 4))
  let standardSeen = false
  let urlSafeSeen = false
  let buffer = 0
  let bits = 0
  let o = 0

  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i)
    const sextet = c < 128 ? (SEXTETS[c] as number) : -1
    if (sextet < 0) throw new Base64Error(`unexpected character at offset ${i}`)
    if (c === 43 || c === 47) standardSeen = true
    else if (c === 45 || c === 95) urlSafeSeen = true

    buffer = ((buffer << 6) | sextet) & 0xffffff
    bits += 6
    if (bits >= 8) {
      bits -= 8
      out[o++] = (buffer >> bits) & 0xff
    }
  }

  if (standardSeen && urlSafeSeen)
    throw new Base64Error('mixes the standard and URL-safe alphabets')
  return out
}
