import type {
  JsonObject,
  LeaseStore,
  LeaseToken,
  SharedRunnerState,
} from 'matrix-background-updates'
import type { SqliteCapabilityContext } from './sqlite-capability.js'
import type { SqliteDatabase } from './sqlite-driver.js'

interface LeaseRow {
  readonly owner: string | null
  readonly fence: number
  readonly expires_ts: number
}

/**
 * The lease of a {@link SqliteStorageAdapter}: one row with the holder, its fencing number and its
 * expiry, shared by every process that opens the database file. Changes run in `BEGIN IMMEDIATE`
 * transactions, so two processes cannot both take it.
 */
export class SqliteLease implements LeaseStore {
  readonly #context: SqliteCapabilityContext
  readonly #lease: string
  readonly #state: string

  /** Creates the lease of an adapter. */
  constructor(context: SqliteCapabilityContext) {
    this.#context = context
    this.#lease = context.table('background_update_lease')
    this.#state = context.table('background_update_runner_state')
  }

  /** Whether `token` is the current, unexpired lease. Synchronous: checked inside transactions. */
  isCurrent(token: LeaseToken): boolean {
    const row = this.#context
      .statement(`SELECT 1 AS current FROM ${this.#lease} WHERE fence = ? AND expires_ts > ?`)
      .get(token.fence, this.#context.now())

    return row !== undefined
  }

  /** @inheritDoc */
  async acquire(owner: string, ttlMs: number): Promise<LeaseToken | null> {
    const database = await this.#open()
    const take = database.transaction(() => {
      const row = this.#read()
      const now = this.#context.now()
      if (row.owner !== null && row.owner !== owner && row.expires_ts > now) return null

      const fence = row.fence + 1
      this.#context
        .statement(
          `INSERT INTO ${this.#lease} (lock, owner, fence, expires_ts) VALUES ('X', ?, ?, ?)
           ON CONFLICT (lock) DO UPDATE
           SET owner = excluded.owner, fence = excluded.fence, expires_ts = excluded.expires_ts`,
        )
        .run(owner, fence, now + ttlMs)
      return { owner, fence }
    })

    return take.immediate()
  }

  /** @inheritDoc */
  async renew(token: LeaseToken, ttlMs: number): Promise<boolean> {
    await this.#open()
    const now = this.#context.now()
    const result = this.#context
      .statement(`UPDATE ${this.#lease} SET expires_ts = ? WHERE fence = ? AND expires_ts > ?`)
      .run(now + ttlMs, token.fence, now)

    return result.changes > 0
  }

  /** @inheritDoc */
  async release(token: LeaseToken): Promise<void> {
    await this.#open()
    this.#context
      .statement(`UPDATE ${this.#lease} SET owner = NULL, expires_ts = 0 WHERE fence = ?`)
      .run(token.fence)
  }

  /** @inheritDoc */
  async readSharedState(): Promise<SharedRunnerState> {
    await this.#open()
    const row = this.#context.statement(`SELECT enabled, status_json FROM ${this.#state}`).get() as
      | { enabled: number; status_json: string | null }
      | undefined

    return { enabled: row ? row.enabled !== 0 : true, status: parseStatus(row?.status_json) }
  }

  /** @inheritDoc */
  async readEnabled(): Promise<boolean> {
    return (await this.readSharedState()).enabled
  }

  /** @inheritDoc */
  async writeEnabled(enabled: boolean): Promise<void> {
    await this.#open()
    this.#context
      .statement(
        `INSERT INTO ${this.#state} (lock, enabled) VALUES ('X', ?)
         ON CONFLICT (lock) DO UPDATE SET enabled = excluded.enabled`,
      )
      .run(enabled ? 1 : 0)
  }

  /** @inheritDoc */
  async writeStatusSnapshot(token: LeaseToken, snapshot: JsonObject): Promise<boolean> {
    const database = await this.#open()
    const write = database.transaction(() => {
      if (!this.isCurrent(token)) return false

      this.#context
        .statement(
          `INSERT INTO ${this.#state} (lock, status_json) VALUES ('X', ?)
           ON CONFLICT (lock) DO UPDATE SET status_json = excluded.status_json`,
        )
        .run(JSON.stringify(snapshot))
      return true
    })

    return write.immediate()
  }

  #read(): LeaseRow {
    const row = this.#context
      .statement(`SELECT owner, fence, expires_ts FROM ${this.#lease}`)
      .get() as LeaseRow | undefined

    return row ?? { owner: null, fence: 0, expires_ts: 0 }
  }

  async #open(): Promise<SqliteDatabase> {
    await this.#context.open()
    return this.#context.database()
  }
}

/** A stored snapshot, or null when there is none or it does not parse to an object. */
function parseStatus(text: string | null | undefined): JsonObject | null {
  if (typeof text !== 'string') return null
  try {
    const status = JSON.parse(text) as unknown
    return typeof status === 'object' && status !== null && !Array.isArray(status)
      ? (status as JsonObject)
      : null
  } catch {
    return null
  }
}
