import type { JsonObject } from '../../matrix/canonical-json.js'
import type { LeaseStore, LeaseToken, SharedRunnerState } from '../lease.js'

interface Holder {
  readonly owner: string
  readonly fence: number
  expiresAt: number
}

/** The lease of a {@link MemoryStorageAdapter}, shared by the runners of one process. */
export class MemoryLease implements LeaseStore {
  readonly #now: () => number
  #holder: Holder | null = null
  #lastFence = 0
  #enabled = true
  #status: JsonObject | null = null

  /** Creates a free lease that reads time from `now` (milliseconds). */
  constructor(now: () => number) {
    this.#now = now
  }

  /** Whether `token` is the current, unexpired lease. Checked by every batch transaction. */
  isCurrent(token: LeaseToken): boolean {
    const holder = this.#holder
    return holder !== null && holder.fence === token.fence && holder.expiresAt > this.#now()
  }

  /** @inheritDoc */
  async acquire(owner: string, ttlMs: number): Promise<LeaseToken | null> {
    const holder = this.#holder
    const now = this.#now()
    if (holder && holder.owner !== owner && holder.expiresAt > now) return null

    this.#lastFence++
    this.#holder = { owner, fence: this.#lastFence, expiresAt: now + ttlMs }
    return { owner, fence: this.#lastFence }
  }

  /** @inheritDoc */
  async renew(token: LeaseToken, ttlMs: number): Promise<boolean> {
    if (!this.isCurrent(token)) return false

    ;(this.#holder as Holder).expiresAt = this.#now() + ttlMs
    return true
  }

  /** @inheritDoc */
  async release(token: LeaseToken): Promise<void> {
    if (this.#holder?.fence === token.fence) this.#holder = null
  }

  /** @inheritDoc */
  async readSharedState(): Promise<SharedRunnerState> {
    return { enabled: this.#enabled, status: this.#status && structuredClone(this.#status) }
  }

  /** @inheritDoc */
  async readEnabled(): Promise<boolean> {
    return this.#enabled
  }

  /** @inheritDoc */
  async writeEnabled(enabled: boolean): Promise<void> {
    this.#enabled = enabled
  }

  /** @inheritDoc */
  async writeStatusSnapshot(token: LeaseToken, snapshot: JsonObject): Promise<boolean> {
    if (!this.isCurrent(token)) return false

    this.#status = structuredClone(snapshot)
    return true
  }
}
