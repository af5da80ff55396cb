import type { Outcomes } from './job.js'

/** What the runner is doing: running batches, idle, disabled, or aborted after five failures. */
export type RunnerState = 'running' | 'idle' | 'disabled' | 'aborted'

/** The current update, as Synapse's status reports it, plus progress and outcomes. */
export interface UpdateStatus {
  /** The update's name. */
  readonly name: string

  /** Items processed by this runner so far. */
  readonly total_item_count: number

  /** Milliseconds spent in batches by this runner so far, sleeps excluded. */
  readonly total_duration_ms: number

  /** The averaged rate, items per millisecond; null before the first batch. */
  readonly average_items_per_ms: number | null

  /** The handler's estimate of how much is done, 0 to 1; null when it gives none. */
  readonly fraction_done: number | null

  /** Estimated batch time left in milliseconds (sleeps excluded); null without an estimate. */
  readonly eta_ms: number | null

  /** Counts by kind, summed over the batches of this runner. */
  readonly outcomes: Outcomes
}

/** The last error of the runner, as plain data. */
export interface RunnerErrorInfo {
  /** The update whose batch failed, or null. */
  readonly update_name: string | null

  /** The error's class name, such as `BatchTimeoutError`. */
  readonly name: string

  /** The error's stable code, when it has one. */
  readonly code: string | null

  /** The error's message. */
  readonly message: string
}

/** The status of one runner (one database). JSON-serialisable. */
export interface RunnerStatus {
  /** The database name, such as `master`. */
  readonly database: string

  /** Whether background updates are enabled. */
  readonly enabled: boolean

  /** What the runner is doing. */
  readonly state: RunnerState

  /** The update being run, or null. */
  readonly current_update: UpdateStatus | null

  /** The last failure, kept after an abort; null when none. */
  readonly last_error: RunnerErrorInfo | null

  /** Queued updates in the order they would run. */
  readonly pending_updates: readonly string[]

  /** Queued updates with no registered handler, which are skipped. */
  readonly missing_handlers: readonly string[]
}

/** Turns any thrown value into {@link RunnerErrorInfo}. */
export function describeError(error: unknown, updateName: string | null): RunnerErrorInfo {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    return {
      update_name: updateName,
      name: error.name,
      code: typeof code === 'string' ? code : null,
      message: error.message,
    }
  }

  return { update_name: updateName, name: 'Error', code: null, message: String(error) }
}

/** The estimated time left, from the time spent and the fraction done. */
export function estimateRemainingMs(totalDurationMs: number, fractionDone: number | null) {
  if (fractionDone === null || fractionDone <= 0) return null

  return Math.round((totalDurationMs * (1 - fractionDone)) / fractionDone)
}
