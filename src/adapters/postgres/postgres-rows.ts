import { type JsonObject, StoredRowError } from 'matrix-background-updates'

const maxSafe = BigInt(Number.MAX_SAFE_INTEGER)

/**
 * A BIGINT as `pg` returns it (a string, unless the host set a type parser) as a safe integer.
 *
 * @throws {StoredRowError} The value is beyond ±(2^53−1), or not an integer at all.
 */
export function safeInteger(value: unknown, table: string, what: string): number {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value
  if (typeof value === 'string' && /^-?\d{1,20}$/.test(value)) {
    const big = BigInt(value)
    if (big <= maxSafe && big >= -maxSafe) return Number(big)
  }
  if (typeof value === 'bigint' && value <= maxSafe && value >= -maxSafe) return Number(value)

  throw new StoredRowError(table, `${what} is not a safe integer`)
}

/** Like {@link safeInteger}, keeping NULL as null. */
export function safeIntegerOrNull(value: unknown, table: string, what: string): number | null {
  return value === null || value === undefined ? null : safeInteger(value, table, what)
}

/** Parses stored JSON that must be an object; null when it does not parse to one. */
export function jsonObjectOrNull(text: unknown): JsonObject | null {
  if (typeof text !== 'string') return null
  try {
    const value = JSON.parse(text) as unknown
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as JsonObject)
      : null
  } catch {
    return null
  }
}

/**
 * Splits rows into rounds in which no key appears twice, keeping their order: set-based writes
 * apply one round per statement, so a key written twice in one batch is written in the order given,
 * as one statement per row would. A batch without repeated keys is one round.
 */
export function roundsByKey<T>(rows: readonly T[], key: (row: T) => string): T[][] {
  const rounds: T[][] = []
  const seen = new Map<string, number>()
  for (const row of rows) {
    const name = key(row)
    const round = seen.get(name) ?? 0
    seen.set(name, round + 1)
    if (rounds.length === round) rounds.push([])
    rounds[round]?.push(row)
  }

  return rounds
}

/** The last row of each key, in the order of their first appearance: what upserts in a loop leave. */
export function lastByKey<T>(rows: readonly T[], key: (row: T) => string): T[] {
  const last = new Map<string, T>()
  for (const row of rows) last.set(key(row), row)

  return [...last.values()]
}

/** The values of one field across rows: a column for `unnest`. */
export function column<T, K extends keyof T>(rows: readonly T[], field: K): T[K][] {
  return rows.map((row) => row[field])
}
