import { type CliIo, notice } from './io.js'

/** What Ctrl-C stops: a runner's `stop()`. */
export interface Stoppable {
  stop(options?: { readonly abort?: boolean }): Promise<void>
}

/** Whether Ctrl-C was pressed, and how to stop listening. */
export interface InterruptWatch {
  /** 0, 1 (stopping after the batch in flight) or 2 (aborting it). */
  readonly presses: number
  dispose(): void
}

/**
 * Ctrl-C in two steps: the first lets the batch in flight finish and commit, then stops; the second
 * aborts that batch, which rolls back. Either way a re-run continues from the last commit.
 */
export function stopOnInterrupt(io: CliIo, runner: Stoppable): InterruptWatch {
  const watch = { presses: 0, dispose: () => {} }
  watch.dispose = io.onInterrupt(() => {
    watch.presses += 1
    if (watch.presses === 1) {
      notice(io, '\nStopping after the batch in flight; press Ctrl-C again to abort it.')
      void runner.stop()
    } else if (watch.presses === 2) {
      notice(io, '\nAborting the batch in flight; it rolls back.')
      void runner.stop({ abort: true })
    }
  })
  return watch
}
