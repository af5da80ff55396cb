/** Weight of the newest batch in the moving averages, as Synapse's. */
const averagingWeight = 0.1

/**
 * The speed of one update: totals and exponential moving averages of items and milliseconds per
 * batch, kept in memory as Synapse keeps them.
 */
export class BatchPerformance {
  /** Items processed by every batch so far. */
  totalItemCount = 0

  /** Milliseconds spent in batches so far, sleeps excluded. */
  totalDurationMs = 0

  #averageItems = 0
  #averageDurationMs = 0

  /** Adds one batch. */
  record(items: number, durationMs: number): void {
    this.totalItemCount += items
    this.totalDurationMs += durationMs
    this.#averageItems += averagingWeight * (items - this.#averageItems)
    this.#averageDurationMs += averagingWeight * (durationMs - this.#averageDurationMs)
  }

  /** Averaged items per millisecond; null before any item was processed, 0 when no time was taken. */
  averageItemsPerMs(): number | null {
    if (this.totalItemCount === 0) return null
    if (this.#averageDurationMs === 0) return 0

    return this.#averageItems / this.#averageDurationMs
  }
}

/**
 * The size of the next batch: enough items to last `targetDurationMs` at the averaged rate, at least
 * `minimumSize`. Null when there is no rate yet, meaning: use the default size.
 */
export function tunedBatchSize(
  performance: BatchPerformance,
  targetDurationMs: number,
  minimumSize: number,
): number | null {
  const rate = performance.averageItemsPerMs()
  if (rate === null) return null

  return Math.max(Math.trunc(targetDurationMs * rate), minimumSize)
}
