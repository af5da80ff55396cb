/**
 * Error codes that mean "try again": the connection dropped, SQLite is busy or locked, or PostgreSQL
 * reports a serialization failure, a deadlock or a lost connection.
 */
const transientCodes = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  '40001',
  '40P01',
  '08000',
  '08003',
  '08006',
  '57P01',
])

/**
 * Classifies an error by its `code` property (or that of its `cause`) as transient, for adapters to
 * use in {@link StorageAdapter.isTransientError}.
 *
 * @returns true for connection resets, SQLITE_BUSY/SQLITE_LOCKED and PostgreSQL classes 40 and 08.
 */
export function isCommonTransientError(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === 'string' && transientCodes.has(code)) return true

    current = (current as { cause?: unknown }).cause
  }

  return false
}
