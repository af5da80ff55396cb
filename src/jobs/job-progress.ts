import type { JsonObject } from '../matrix/canonical-json.js'
import { isJsonObject } from '../matrix/redaction.js'
import type { Logger } from '../runner/logger.js'

/** Counts by outcome, as a job keeps them in its progress. */
export type OutcomeCounts = Record<string, number>

/** Adds `batch` to `total`, returning a new object. */
export function addCounts(total: Readonly<OutcomeCounts>, batch: Readonly<OutcomeCounts>) {
  const sum: OutcomeCounts = { ...total }
  for (const [kind, count] of Object.entries(batch)) sum[kind] = (sum[kind] ?? 0) + count
  return sum
}

/** Counts each kind in a list. */
export function countKinds(kinds: readonly string[]): OutcomeCounts {
  return addKinds({}, kinds)
}

/** Adds one to `counts[kind]` for each kind, in place, and returns `counts`. */
export function addKinds(counts: OutcomeCounts, kinds: readonly string[]): OutcomeCounts {
  for (const kind of kinds) counts[kind] = (counts[kind] ?? 0) + 1
  return counts
}

/**
 * Reads the `counts` of a committed progress.
 *
 * @throws {TypeError} They are not an object of non-negative integers.
 */
export function readCounts(progress: JsonObject, updateName: string): OutcomeCounts {
  const counts = progress.counts ?? {}
  const valid =
    isJsonObject(counts) &&
    Object.values(counts).every((count) => Number.isSafeInteger(count) && (count as number) >= 0)
  if (!valid) throw new TypeError(`progress.counts of ${updateName} must hold counts`)

  return { ...(counts as OutcomeCounts) }
}

/**
 * Calls a host's callback without letting it disturb the job: a throw or a rejection is logged.
 * Used after a batch has committed.
 */
export function notifyHost<A extends unknown[]>(
  logger: Logger,
  name: string,
  callback: ((...args: A) => unknown) | undefined,
  ...args: A
): void {
  if (callback === undefined) return

  const fail = (error: unknown) =>
    logger.error({ err: error, callback: name }, 'A host callback of a background job failed')
  try {
    Promise.resolve(callback(...args)).catch(fail)
  } catch (error) {
    fail(error)
  }
}
