import type { Logger } from '../runner/logger.js'

/** An event a job left as it was, for the log. */
export interface SkippedEvent {
  /** The event's ID, when the store or the JSON gives one. */
  readonly event_id: string | undefined

  /** The outcome it was counted under, such as `malformed`. */
  readonly reason: string

  /** One sentence naming fields and key ids, never content or key material. */
  readonly detail: string
}

/** The reasons an operator should hear about: the stored data is not what it should be. */
const NOTEWORTHY = new Set(['malformed', 'unknown-room-version', 'unprovable', 'missing'])

/**
 * Logs each noteworthy skipped event once, as a warning, after its batch has committed (a batch
 * that rolls back and runs again logs nothing twice).
 */
export function logSkipped(logger: Logger, update: string, skipped: readonly SkippedEvent[]): void {
  for (const event of skipped) {
    if (!NOTEWORTHY.has(event.reason)) continue

    logger.warn(
      { update, event_id: event.event_id, reason: event.reason, detail: event.detail },
      `${update} left an event as it is stored`,
    )
  }
}
