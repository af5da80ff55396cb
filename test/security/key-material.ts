/**
 * Finds key material in captured text: a seed (and the 64-byte secret key a seed expands to, seed
 * then public key) in every encoding a bug could write it in.
 */
import { Buffer } from 'node:buffer'

/** Every way a byte string could be written out by mistake. */
export function encodingsOf(bytes: Uint8Array): string[] {
  const buffer = Buffer.from(bytes)
  const standard = buffer.toString('base64')
  const urlSafe = buffer.toString('base64url')
  const numbers = [...bytes].join(',')
  return [
    standard,
    standard.replace(/=+$/, ''),
    urlSafe,
    `${urlSafe}${'='.repeat((4 - (urlSafe.length % 4)) % 4)}`,
    buffer.toString('hex'),
    buffer.toString('hex').toUpperCase(),
    buffer.toString('latin1'),
    new TextDecoder().decode(bytes),
    `[${numbers}]`,
    `[${[...bytes].join(', ')}]`,
    numbers,
    [...bytes].map((byte) => `\\x${byte.toString(16).padStart(2, '0')}`).join(''),
    [...bytes].map((byte) => byte.toString(16).padStart(2, '0')).join(' '),
  ]
}

/**
 * The needles for a key: the seed, and the seed followed by the public key, each whole and each
 * half on its own, in every encoding.
 */
export function needlesFor(seed: Uint8Array, publicKey: Uint8Array): string[] {
  const secret = new Uint8Array([...seed, ...publicKey])
  const pieces = [seed, secret, seed.slice(0, 16), seed.slice(16)]
  return pieces.flatMap(encodingsOf)
}

/** The needles found in `haystack`, by encoding, for the report of a failing test. */
export function leaksIn(haystack: string, needles: readonly string[]): string[] {
  return needles.filter((needle) => haystack.includes(needle))
}
