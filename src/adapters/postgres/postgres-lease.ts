import type {
  JsonObject,
  LeaseStore,
  LeaseToken,
  SharedRunnerState,
} from 'matrix-background-updates'
import type { PostgresCapabilityContext } from './postgres-capability.js'
import type { PostgresQueryable } from './postgres-driver.js'
import { jsonObjectOrNull, safeInteger } from './postgres-rows.js'

/**
 * The lease of a {@link PostgresStorageAdapter}: one row with the holder, its fencing number and
 * its expiry, shared by every process on the database. Each change is one statement whose `WHERE`
 * holds the whole condition, so two processes cannot both take it; a batch transaction locks the
 * row while it checks the fence, so a takeover waits until that batch has committed.
 */
export class PostgresLease implements LeaseStore {
  readonly #context: PostgresCapabilityContext
  readonly #lease: string
  readonly #state: string

  /** Creates the lease of an adapter. */
  constructor(context: PostgresCapabilityContext) {
    this.#context = context
    this.#lease = context.table('background_update_lease')
    this.#state = context.table('background_update_runner_state')
  }

  /**
   * Whether `token` is the current, unexpired lease, locking the lease row until the transaction
   * ends: call inside the batch transaction.
   */
  async lockIfCurrent(db: PostgresQueryable, token: LeaseToken): Promise<boolean> {
    const result = await db.query(
      `SELECT fence FROM ${this.#lease} WHERE fence = $1 AND expires_ts > $2 FOR UPDATE`,
      [token.fence, this.#context.now()],
    )

    return result.rows.length > 0
  }

  /** @inheritDoc */
  async acquire(owner: string, ttlMs: number): Promise<LeaseToken | null> {
    const now = this.#context.now()
    const [row] = await this.#context.query<{ fence: unknown }>(
      `UPDATE ${this.#lease} SET owner = $1, fence = fence + 1, expires_ts = $2
       WHERE owner IS NULL OR owner = $1 OR expires_ts <= $3
       RETURNING fence`,
      [owner, now + ttlMs, now],
    )

    return row ? { owner, fence: safeInteger(row.fence, 'background_update_lease', 'fence') } : null
  }

  /** @inheritDoc */
  async renew(token: LeaseToken, ttlMs: number): Promise<boolean> {
    const now = this.#context.now()
    const rows = await this.#context.query(
      `UPDATE ${this.#lease} SET expires_ts = $1 WHERE fence = $2 AND expires_ts > $3
       RETURNING fence`,
      [now + ttlMs, token.fence, now],
    )

    return rows.length > 0
  }

  /** @inheritDoc */
  async release(token: LeaseToken): Promise<void> {
    await this.#context.query(
      `UPDATE ${this.#lease} SET owner = NULL, expires_ts = 0 WHERE fence = $1`,
      [token.fence],
    )
  }

  /** @inheritDoc */
  async readSharedState(): Promise<SharedRunnerState> {
    const [row] = await this.#context.query<{ enabled: boolean; status_json: string | null }>(
      `SELECT enabled, status_json FROM ${this.#state}`,
    )

    return { enabled: row?.enabled ?? true, status: jsonObjectOrNull(row?.status_json) }
  }

  /** @inheritDoc */
  async readEnabled(): Promise<boolean> {
    const [row] = await this.#context.query<{ enabled: boolean }>(
      `SELECT enabled FROM ${this.#state}`,
    )
    return row?.enabled ?? true
  }

  /** @inheritDoc */
  async writeEnabled(enabled: boolean): Promise<void> {
    await this.#context.query(
      `INSERT INTO ${this.#state} (lock, enabled) VALUES ('X', $1)
       ON CONFLICT (lock) DO UPDATE SET enabled = excluded.enabled`,
      [enabled],
    )
  }

  /** @inheritDoc */
  async writeStatusSnapshot(token: LeaseToken, snapshot: JsonObject): Promise<boolean> {
    const rows = await this.#context.query(
      `UPDATE ${this.#state} SET status_json = $1
       WHERE EXISTS (SELECT 1 FROM ${this.#lease} WHERE fence = $2 AND expires_ts > $3)
       RETURNING lock`,
      [JSON.stringify(snapshot), token.fence, this.#context.now()],
    )

    return rows.length > 0
  }
}
