import type { JsonObject } from '../matrix/canonical-json.js'

/** Proof of holding the lease. `fence` grows with every acquisition, so a stale holder is refused. */
export interface LeaseToken {
  /** The owner that acquired it. */
  readonly owner: string

  /** The fencing number; every batch transaction checks it is still the current one. */
  readonly fence: number
}

/** State shared by every process of one database when a lease is used. */
export interface SharedRunnerState {
  /** Whether background updates are enabled (Synapse's `enabled`). Default true. */
  readonly enabled: boolean

  /** The last status snapshot stored by the holder, or null. */
  readonly status: JsonObject | null
}

/**
 * A lease with an expiry and a fencing token, so one runner per database runs batches. Another
 * process takes over once the holder stops renewing.
 */
export interface LeaseStore {
  /**
   * Takes the lease when it is free or expired (or already held by `owner`), for `ttlMs`
   * milliseconds. Resolves null when another owner holds it.
   */
  acquire(owner: string, ttlMs: number): Promise<LeaseToken | null>

  /** Extends the lease by `ttlMs` from now. Resolves false when the token is no longer current. */
  renew(token: LeaseToken, ttlMs: number): Promise<boolean>

  /** Gives the lease up, if the token is still current. */
  release(token: LeaseToken): Promise<void>

  /** Reads `enabled` and the status snapshot. */
  readSharedState(): Promise<SharedRunnerState>

  /** Reads `enabled` alone; called before every batch. */
  readEnabled(): Promise<boolean>

  /** Sets `enabled` for every process. */
  writeEnabled(enabled: boolean): Promise<void>

  /** Stores a status snapshot. Resolves false (storing nothing) when the token is not current. */
  writeStatusSnapshot(token: LeaseToken, snapshot: JsonObject): Promise<boolean>
}
