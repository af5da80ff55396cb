/** Calls `fn`, turning a synchronous throw into a rejected promise. */
export function callSafely<A, R>(fn: (argument: A) => Promise<R>, argument: A): Promise<R> {
  try {
    return Promise.resolve(fn(argument))
  } catch (error) {
    return Promise.reject(error)
  }
}

/**
 * Settles as `promise` does, or rejects with the signal's reason as soon as it aborts, so a handler
 * that ignores its signal cannot hold the runner.
 */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason)

  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (error) => {
        signal.removeEventListener('abort', onAbort)
        reject(error)
      },
    )
  })
}
