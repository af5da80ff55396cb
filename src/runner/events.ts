import type { Outcomes } from './job.js'

/** An update became the current one. */
export interface UpdateStartEvent {
  readonly database: string
  readonly name: string
}

/** A batch committed. */
export interface UpdateBatchEvent {
  readonly database: string
  readonly name: string

  /** Items the batch processed. */
  readonly items: number

  /** Milliseconds the batch took (handler and commit), sleeps excluded. */
  readonly duration_ms: number

  /** The batch size the handler was given. */
  readonly batch_size: number

  /** Whether it was the last batch. */
  readonly done: boolean

  /** The outcome counts of this batch. */
  readonly outcomes: Outcomes

  /** Rows its writes skipped because their condition failed. */
  readonly skipped: number
}

/** An update finished and left the queue. */
export interface UpdateCompleteEvent {
  readonly database: string
  readonly name: string
  readonly total_item_count: number
  readonly total_duration_ms: number
}

/** A batch (or choosing one) failed. Nothing of it was committed. */
export interface UpdateErrorEvent {
  readonly database: string

  /** The update, or null when the failure came before one was chosen. */
  readonly name: string | null
  readonly error: unknown

  /** Failures in a row so far; five abort the runner. Unchanged by transient errors. */
  readonly failures: number

  /** Whether the adapter classified the error as transient (it will be retried). */
  readonly transient: boolean
}

/** A queued update has no registered handler; it is skipped. Emitted once per name. */
export interface UpdateMissingHandlerEvent {
  readonly database: string
  readonly name: string
}

/** The runner aborted (five failures in a row, or a dependency cycle). */
export interface RunnerAbortedEvent {
  readonly database: string
  readonly error: unknown
}

/** Nothing is runnable. */
export interface RunnerIdleEvent {
  readonly database: string
}

/** `enabled` changed. */
export interface RunnerEnabledChangedEvent {
  readonly database: string
  readonly enabled: boolean
}

/** The events of a {@link BackgroundUpdateRunner}, by name. */
export interface RunnerEvents {
  'update:start': (event: UpdateStartEvent) => void
  'update:batch': (event: UpdateBatchEvent) => void
  'update:complete': (event: UpdateCompleteEvent) => void
  'update:error': (event: UpdateErrorEvent) => void
  'update:missing-handler': (event: UpdateMissingHandlerEvent) => void
  'runner:aborted': (event: RunnerAbortedEvent) => void
  'runner:idle': (event: RunnerIdleEvent) => void
  'runner:enabled-changed': (event: RunnerEnabledChangedEvent) => void
}
