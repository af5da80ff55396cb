import { parseVerifyKey } from 'matrix-background-updates'
import { UsageError } from './errors.js'

/**
 * A `--before-ts` value: milliseconds since the epoch, or an ISO 8601 date with a time zone
 * (`2026-12-01T00:00:00Z`).
 *
 * @throws {UsageError} It is neither.
 */
export function parseBeforeTs(text: string): number {
  if (/^\d+$/.test(text)) {
    const ms = Number(text)
    if (Number.isSafeInteger(ms)) return ms
  }
  if (/^\d{4}-\d{2}-\d{2}T.*(Z|[+-]\d{2}:\d{2})$/.test(text)) {
    const ms = Date.parse(text)
    if (Number.isSafeInteger(ms) && ms >= 0) return ms
  }
  throw new UsageError(
    `--before-ts must be milliseconds since the epoch or an ISO 8601 date with a zone, got '${text}'`,
  )
}

/**
 * An `--old-key` value, checked: `ed25519:<version> <unpadded base64>`, as `keys show` prints it.
 *
 * @throws {UsageError} It does not parse.
 */
export function parseOldKeyOption(text: string): string {
  try {
    parseVerifyKey(text)
    return text
  } catch {
    throw new UsageError(
      `--old-key must be 'ed25519:<version> <base64>' (as 'keys show' prints it), got '${text}'`,
    )
  }
}

/**
 * A positive integer option, such as `--batch-size`.
 *
 * @throws {UsageError} It is not one.
 */
export function parsePositiveInteger(text: string, name: string, allowZero = false): number {
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN
  const least = allowZero ? 0 : 1
  if (!Number.isSafeInteger(value) || value < least) {
    throw new UsageError(`--${name} must be an integer of at least ${least}, got '${text}'`)
  }
  return value
}
