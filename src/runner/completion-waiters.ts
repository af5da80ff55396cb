interface Waiter {
  readonly updateName: string | null
  readonly resolve: () => void
}

/** Promises that resolve once an update, or every update, has left the queue. */
export class CompletionWaiters {
  readonly #waiters = new Set<Waiter>()

  /** The number of promises still waiting. */
  get size(): number {
    return this.#waiters.size
  }

  /** A promise for `updateName` (null: every update); it rejects with the reason if `signal` aborts. */
  wait(updateName: string | null, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason)

      const waiter: Waiter = { updateName, resolve }
      signal?.addEventListener('abort', () => {
        if (this.#waiters.delete(waiter)) reject(signal.reason)
      })
      this.#waiters.add(waiter)
    })
  }

  /** Resolves the promises whose update is not among the `queued` names. */
  settle(queued: ReadonlySet<string>): void {
    for (const waiter of this.#waiters) {
      const done = waiter.updateName === null ? queued.size === 0 : !queued.has(waiter.updateName)
      if (!done) continue

      this.#waiters.delete(waiter)
      waiter.resolve()
    }
  }
}
