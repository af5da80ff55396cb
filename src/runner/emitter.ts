/** A map from event name to listener signature, as typed-emitter describes it. */
export type EventListeners<Events> = { [E in keyof Events]: (...args: never[]) => unknown }

type Entry = { readonly listener: (...args: never[]) => unknown; readonly once: boolean }

/**
 * A small typed event emitter (`on`, `off`, `once`, `emit`) that runs on every runtime. A listener
 * that throws, or returns a promise that rejects, never disturbs the emitter or the other listeners:
 * the error goes to the `onListenerError` callback given to the constructor.
 */
export class TypedEmitter<Events extends EventListeners<Events>> {
  readonly #listeners = new Map<keyof Events, Entry[]>()
  readonly #onListenerError: (error: unknown, event: keyof Events) => void

  /** Creates an emitter. `onListenerError` receives what listeners throw; default: ignore it. */
  constructor(onListenerError: (error: unknown, event: keyof Events) => void = () => {}) {
    this.#onListenerError = onListenerError
  }

  /**
   * Calls `listener` on every `event`.
   *
   * @throws {TypeError} `listener` is not a function.
   */
  on<E extends keyof Events>(event: E, listener: Events[E]): this {
    return this.#add(event, listener, false)
  }

  /**
   * Calls `listener` on the next `event` only.
   *
   * @throws {TypeError} `listener` is not a function.
   */
  once<E extends keyof Events>(event: E, listener: Events[E]): this {
    return this.#add(event, listener, true)
  }

  /** Removes `listener` from `event` (its first registration, if registered several times). */
  off<E extends keyof Events>(event: E, listener: Events[E]): this {
    const entries = this.#listeners.get(event)
    const index = entries?.findIndex((entry) => entry.listener === listener) ?? -1
    if (entries && index >= 0) entries.splice(index, 1)

    return this
  }

  /** The number of listeners of `event`. */
  listenerCount(event: keyof Events): number {
    return this.#listeners.get(event)?.length ?? 0
  }

  /** Calls the listeners of `event` with `args`. Returns whether there were any. */
  emit<E extends keyof Events>(event: E, ...args: Parameters<Events[E]>): boolean {
    const entries = this.#listeners.get(event)
    if (!entries || entries.length === 0) return false

    for (const entry of [...entries]) {
      if (entry.once) this.off(event, entry.listener as Events[E])
      this.#call(event, entry, args)
    }

    return true
  }

  #add<E extends keyof Events>(event: E, listener: Events[E], once: boolean): this {
    if (typeof listener !== 'function') {
      throw new TypeError(`A listener of ${String(event)} must be a function`)
    }

    const entries = this.#listeners.get(event) ?? []
    entries.push({ listener, once })
    this.#listeners.set(event, entries)
    return this
  }

  #call(event: keyof Events, entry: Entry, args: readonly unknown[]): void {
    try {
      const result = (entry.listener as (...args: unknown[]) => unknown)(...args)
      if (result instanceof Promise) result.catch((error) => this.#report(error, event))
    } catch (error) {
      this.#report(error, event)
    }
  }

  #report(error: unknown, event: keyof Events): void {
    try {
      this.#onListenerError(error, event)
    } catch {
      // The error sink itself failed; there is nowhere left to report to.
    }
  }
}
