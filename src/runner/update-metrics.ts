import { BatchPerformance } from './batch-tuning.js'
import type { Outcomes } from './job.js'
import { estimateRemainingMs, type UpdateStatus } from './status.js'

/** What a runner has measured of each update, in memory: speed, outcomes and fraction done. */
export class UpdateMetrics {
  readonly #performance = new Map<string, BatchPerformance>()
  readonly #outcomes = new Map<string, Record<string, number>>()
  readonly #fractionDone = new Map<string, number | null>()

  /** The speed record of an update, created empty on first use. */
  performanceOf(updateName: string): BatchPerformance {
    let performance = this.#performance.get(updateName)
    if (!performance) {
      performance = new BatchPerformance()
      this.#performance.set(updateName, performance)
    }

    return performance
  }

  /** Adds one batch's outcome counts to the update's totals. */
  addOutcomes(updateName: string, outcomes: Outcomes): void {
    const totals = this.#outcomes.get(updateName) ?? {}
    for (const [kind, count] of Object.entries(outcomes)) totals[kind] = (totals[kind] ?? 0) + count
    this.#outcomes.set(updateName, totals)
  }

  /** Records the handler's latest estimate of how much is done; `undefined` keeps the last one. */
  setFractionDone(updateName: string, fractionDone: number | null | undefined): void {
    if (fractionDone !== undefined) this.#fractionDone.set(updateName, fractionDone)
  }

  /** The update's status fields, with Synapse's names. */
  status(updateName: string): UpdateStatus {
    const performance = this.performanceOf(updateName)
    const fractionDone = this.#fractionDone.get(updateName) ?? null
    return {
      name: updateName,
      total_item_count: performance.totalItemCount,
      total_duration_ms: performance.totalDurationMs,
      average_items_per_ms: performance.averageItemsPerMs(),
      fraction_done: fractionDone,
      eta_ms: estimateRemainingMs(performance.totalDurationMs, fractionDone),
      outcomes: { ...this.#outcomes.get(updateName) },
    }
  }
}
