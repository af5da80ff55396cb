import type { LeaseStore, LeaseToken } from '../adapters/lease.js'
import type { Clock } from './clock.js'
import type { Logger } from './logger.js'

/** Settings a {@link LeaseKeeper} needs. */
export interface LeaseKeeperSettings {
  readonly owner: string
  readonly durationMs: number
  readonly clock: Clock
  readonly logger: Logger
}

/**
 * Holds a runner's lease: acquires it, renews it once a third of its duration has passed (also while
 * a batch runs), and drops it when the store says it is lost. Without a store, the runner is alone
 * and always holds it.
 */
export class LeaseKeeper {
  readonly store: LeaseStore | null
  readonly #settings: LeaseKeeperSettings
  #token: LeaseToken | null = null
  #renewedAt = 0

  constructor(store: LeaseStore | null, settings: LeaseKeeperSettings) {
    this.store = store
    this.#settings = settings
  }

  /** The token to check in batch transactions; null without a lease or when not held. */
  get token(): LeaseToken | null {
    return this.#token
  }

  /** Whether this runner may run batches: there is no lease, or it holds it. */
  get held(): boolean {
    return this.store === null || this.#token !== null
  }

  /**
   * Makes sure the lease is held, renewing or acquiring it. Resolves true when batches may run, and
   * `acquired` reports a fresh acquisition (so the caller re-reads the queue).
   */
  async hold(): Promise<{ held: boolean; acquired: boolean }> {
    const store = this.store
    if (!store) return { held: true, acquired: false }

    const { clock, durationMs, owner } = this.#settings
    const now = clock.now()
    if (this.#token && now - this.#renewedAt < durationMs / 3)
      return { held: true, acquired: false }
    if (this.#token && (await store.renew(this.#token, durationMs))) {
      this.#renewedAt = now
      return { held: true, acquired: false }
    }

    if (this.#token) this.drop('it expired')
    this.#token = await store.acquire(owner, durationMs)
    this.#renewedAt = now
    if (this.#token) this.#settings.logger.info({ owner }, 'Acquired the background update lease')
    return { held: this.#token !== null, acquired: this.#token !== null }
  }

  /** Renews the lease on a timer until the returned function is called; for long batches. */
  keepDuringBatch(): () => void {
    const store = this.store
    const token = this.#token
    if (!store || !token) return () => {}

    const { clock, durationMs, logger } = this.#settings
    const renew = () => {
      store.renew(token, durationMs).then(
        (renewed) => {
          if (renewed) this.#renewedAt = clock.now()
        },
        (error) => logger.warn({ err: error }, 'Could not renew the background update lease'),
      )
      handle = clock.setTimeout(renew, durationMs / 3)
    }
    let handle = clock.setTimeout(renew, durationMs / 3)
    return () => clock.clearTimeout(handle)
  }

  /** Forgets the token after the store refused it. */
  drop(reason: string): void {
    if (!this.#token) return

    this.#settings.logger.info({ owner: this.#settings.owner, reason }, 'Lost the lease')
    this.#token = null
  }

  /** Gives the lease up. Errors are logged, not thrown. */
  async release(): Promise<void> {
    const token = this.#token
    if (!this.store || !token) return

    this.#token = null
    try {
      await this.store.release(token)
    } catch (error) {
      this.#settings.logger.warn({ err: error }, 'Could not release the background update lease')
    }
  }
}
