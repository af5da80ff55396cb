/**
 * The time source of a runner: milliseconds (only differences matter) and timers. Inject the test
 * kit's fake clock to drive a runner without waiting.
 */
export interface Clock {
  /** The current time in milliseconds. */
  now(): number

  /** Calls `callback` once, `ms` milliseconds from now. Returns a handle for {@link Clock.clearTimeout}. */
  setTimeout(callback: () => void, ms: number): unknown

  /** Cancels a timer that has not fired yet. */
  clearTimeout(handle: unknown): void
}

/** The real clock: `performance.now()` and the global timers, available on every runtime. */
export const systemClock: Clock = {
  now: () => globalThis.performance.now(),
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
}

/**
 * Resolves after `ms` milliseconds of `clock`, or at once when `signal` aborts (it never rejects).
 */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve()

  return new Promise((resolve) => {
    const done = () => {
      clock.clearTimeout(handle)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const handle = clock.setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
}
