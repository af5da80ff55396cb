import type { Clock } from 'matrix-background-updates'

interface Timer {
  readonly id: number
  readonly dueAt: number
  readonly callback: () => void
}

/**
 * A clock that moves only when told to, for tests without real waiting. `advance()` fires the timers
 * that fall due, in order, letting the promises they settle run in between.
 */
export class FakeClock implements Clock {
  #now: number
  #nextId = 1
  readonly #timers = new Map<number, Timer>()

  /**
   * @param startMs The initial time in milliseconds. Default 0.
   * @throws {RangeError} `startMs` is not a finite number.
   */
  constructor(startMs = 0) {
    if (!Number.isFinite(startMs)) throw new RangeError(`startMs must be finite, got ${startMs}`)

    this.#now = startMs
  }

  /** The current fake time in milliseconds. */
  now(): number {
    return this.#now
  }

  /** Schedules `callback` at now + `ms` (negative and NaN count as 0). */
  setTimeout(callback: () => void, ms: number): number {
    const id = this.#nextId++
    const delay = Number.isNaN(ms) ? 0 : Math.max(ms, 0)
    this.#timers.set(id, { id, dueAt: this.#now + delay, callback })
    return id
  }

  /** Cancels a pending timer; unknown handles are ignored. */
  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number)
  }

  /** The number of pending timers. */
  get pendingTimers(): number {
    return this.#timers.size
  }

  /**
   * Moves time forward synchronously without firing timers, as a slow handler would. Timers that
   * fall due fire at the next {@link FakeClock.advance}.
   *
   * @throws {RangeError} `ms` is negative or not finite.
   */
  tick(ms: number): void {
    checkDuration(ms)
    this.#now += ms
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due (including ones scheduled on the
   * way) in due order, and letting pending promises settle after each.
   *
   * @throws {RangeError} `ms` is negative or not finite.
   */
  async advance(ms: number): Promise<void> {
    checkDuration(ms)
    const target = this.#now + ms
    await settle()
    for (let timer = this.#nextDue(target); timer; timer = this.#nextDue(target)) {
      this.#timers.delete(timer.id)
      this.#now = Math.max(this.#now, timer.dueAt)
      timer.callback()
      await settle()
    }

    this.#now = target
    await settle()
  }

  /**
   * Fires pending timers one after another, moving time to each, until none is left or `limit`
   * timers have fired. Returns how many fired.
   */
  async runAll(limit = 10_000): Promise<number> {
    let fired = 0
    await settle()
    for (let timer = this.#nextDue(Number.POSITIVE_INFINITY); timer && fired < limit; fired++) {
      await this.advance(Math.max(0, timer.dueAt - this.#now))
      timer = this.#nextDue(Number.POSITIVE_INFINITY)
    }

    return fired
  }

  #nextDue(limit: number): Timer | undefined {
    let next: Timer | undefined
    for (const timer of this.#timers.values()) {
      if (timer.dueAt <= limit && (!next || timer.dueAt < next.dueAt)) next = timer
    }

    return next
  }
}

function checkDuration(ms: number): void {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
    throw new RangeError(`A fake clock moves by a finite number of ms >= 0, got ${ms}`)
  }
}

/** Lets every pending promise chain run: one real macrotask turn. */
function settle(): Promise<void> {
  return new Promise((resolve) => globalThis.setTimeout(resolve, 0))
}
