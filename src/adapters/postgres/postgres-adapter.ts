import {
  type BatchCommit,
  type CapabilityReader,
  type CommitResult,
  DuplicateCapabilityError,
  type JsonObject,
  MissingCapabilityError,
  type NewQueuedUpdate,
  type QueuedUpdate,
  type StorageAdapter,
  type StorageWrite,
  type WriteReport,
  type WriteResult,
} from 'matrix-background-updates'
import { checkTablePrefix } from '../sql/schema.js'
import { builtInPostgresCapabilities } from './postgres-capabilities.js'
import type {
  PostgresCapabilityContext,
  PostgresCapabilityInstance,
  PostgresCapabilityModule,
} from './postgres-capability.js'
import {
  inTransaction,
  openPostgresPool,
  type PostgresPool,
  type PostgresPoolClient,
  queryRows,
} from './postgres-driver.js'
import { isPostgresTransientError } from './postgres-errors.js'
import { postgresEventsCapability } from './postgres-events.js'
import { PostgresLease } from './postgres-lease.js'
import { migratePostgres, type PostgresMigrationResult } from './postgres-migrate.js'
import { PostgresQueue } from './postgres-queue.js'
import { appendAndReplace, isResignPair } from './postgres-resign-writes.js'
import { postgresUndoLogCapability } from './postgres-undo-log.js'

/** Options of {@link PostgresStorageAdapter}: a `pool` or a `connectionString`, not both. */
export interface PostgresStorageAdapterOptions {
  /** A `pg` `Pool` (or anything with its `query` and `connect`), used as configured, left open. */
  readonly pool?: PostgresPool

  /** A connection string: the adapter loads `pg` on first use and makes a pool of its own. */
  readonly connectionString?: string

  /** The size of the pool the adapter makes for a connection string. Default 4. */
  readonly maxConnections?: number

  /**
   * The PostgreSQL schema holding the reference tables, created by `migrate()` if missing (up to
   * 63 of `[a-z0-9_]`, not starting with a digit). Default: none, names are resolved by the
   * connection's `search_path`.
   */
  readonly schema?: string

  /** A prefix for every table of the reference schema, such as `mbu_`. Default `''`. */
  readonly tablePrefix?: string

  /**
   * The capability modules. Default: every built-in one, over the reference schema. A host with
   * its own schema passes its own modules.
   */
  readonly capabilities?: readonly PostgresCapabilityModule[]

  /**
   * How long a batch transaction may sit idle between statements before the server ends its
   * session, in ms (`idle_in_transaction_session_timeout`, set for that transaction only). A batch
   * transaction holds the lease row locked, so a holder frozen mid-commit (stopped, swapping) would
   * otherwise keep every other process from taking over. 0 leaves the server's setting. Default
   * 10,000.
   */
  readonly idleInTransactionTimeoutMs?: number

  /** The clock of the lease. Default `Date.now`. */
  readonly clock?: { now(): number }

  /** Classifies errors as transient. Default {@link isPostgresTransientError}. */
  readonly isTransientError?: (error: unknown) => boolean
}

const schemaPattern = /^[a-z_][a-z0-9_]{0,62}$/

/**
 * Every storage contract over PostgreSQL with `pg` 8: the queue, the lease shared by every process
 * on the database, and the capabilities of the built-in jobs over the reference schema. A batch's
 * fencing check, its set-based writes, its progress and, when done, the deletion of its row commit
 * in one transaction on one connection. Call {@link migrate} once first.
 *
 * @example
 * ```ts
 * const storage = new PostgresStorageAdapter({ connectionString: process.env.DATABASE_URL })
 * await storage.migrate()
 * const runner = new BackgroundUpdateRunner({ storage })
 * ```
 */
export class PostgresStorageAdapter implements StorageAdapter {
  /** The lease shared by every process on the database. */
  readonly lease: PostgresLease

  readonly #source: PostgresPool | string
  readonly #maxConnections: number
  readonly #idleTimeoutMs: number
  readonly #schema: string | null
  readonly #prefix: string
  readonly #now: () => number
  readonly #isTransient: (error: unknown) => boolean
  readonly #installed = new Map<string, PostgresCapabilityInstance>()
  readonly #queue: PostgresQueue
  /** Set when the built-in events and undo_log modules are both installed: they may be fused. */
  #fusable: PostgresCapabilityContext | undefined
  #pool: PostgresPool | null = null
  #opening: Promise<PostgresPool> | null = null

  /**
   * Creates the adapter. Connects to nothing yet.
   *
   * @throws {TypeError} An option has the wrong type, or neither or both of `pool` and
   *   `connectionString` are given.
   * @throws {RangeError} The schema name, the table prefix, the pool size or the idle timeout is
   *   out of range.
   * @throws {DuplicateCapabilityError} Two modules have the same name.
   */
  constructor(options: PostgresStorageAdapterOptions) {
    this.#source = checkSource(options)
    this.#maxConnections = checkCount('maxConnections', options.maxConnections ?? 4, 1)
    this.#idleTimeoutMs = checkCount(
      'idleInTransactionTimeoutMs',
      options.idleInTransactionTimeoutMs ?? 10_000,
      0,
    )
    this.#schema = checkSchema(options.schema)
    this.#prefix = checkTablePrefix(options.tablePrefix ?? '')
    const clock = options.clock
    this.#now = clock ? () => clock.now() : () => Date.now()
    this.#isTransient = options.isTransientError ?? isPostgresTransientError

    const context = this.#context()
    this.#queue = new PostgresQueue(this.tableName('background_updates'))
    this.lease = new PostgresLease(context)
    const modules = options.capabilities ?? builtInPostgresCapabilities
    for (const module of modules) this.#install(module, context)
    const builtIn = [postgresEventsCapability, postgresUndoLogCapability]
    this.#fusable = builtIn.every((module) => modules.includes(module)) ? context : undefined
  }

  /** The names of the installed capabilities. */
  get capabilities(): readonly string[] {
    return [...this.#installed.keys()]
  }

  /** The PostgreSQL schema, or null when names go through the search path. */
  get schema(): string | null {
    return this.#schema
  }

  /** The table prefix. */
  get tablePrefix(): string {
    return this.#prefix
  }

  /** A reference table's name as the adapter writes it in SQL: schema, prefix and name. */
  tableName(name: string): string {
    const table = this.#prefix + name
    return this.#schema === null ? table : `${this.#schema}.${table}`
  }

  /**
   * Creates or upgrades the reference schema in one transaction under an advisory lock, so several
   * processes may migrate at once: versioned and idempotent.
   *
   * @throws {SchemaVersionError} The database has a newer schema than this library knows.
   */
  async migrate(): Promise<PostgresMigrationResult> {
    const place = { schema: this.#schema, prefix: this.#prefix }
    return inTransaction(await this.pool(), (client) => migratePostgres(client, place, this.#now()))
  }

  /** The pool, made on first use when the adapter was given a connection string. */
  async pool(): Promise<PostgresPool> {
    if (this.#pool) return this.#pool
    if (typeof this.#source !== 'string') return this.#source

    this.#opening ??= openPostgresPool(this.#source, this.#maxConnections)
    try {
      this.#pool = await this.#opening
    } finally {
      this.#opening = null
    }
    return this.#pool
  }

  /** Ends the pool if this adapter made it; a pool passed in is left open. */
  async close(): Promise<void> {
    if (typeof this.#source !== 'string') return

    const pool = this.#pool
    this.#pool = null
    await pool?.end()
  }

  /**
   * The installed instance of a capability.
   *
   * @throws {MissingCapabilityError} No module of that name is installed.
   */
  instance<I extends PostgresCapabilityInstance>(capability: string): I {
    const instance = this.#installed.get(capability)
    if (!instance) throw new MissingCapabilityError('This PostgreSQL adapter', [capability])

    return instance as I
  }

  /** @inheritDoc */
  reader<K extends string>(capability: K): CapabilityReader<K> {
    return this.instance(capability).reader as CapabilityReader<K>
  }

  /** @inheritDoc */
  isTransientError(error: unknown): boolean {
    return this.#isTransient(error)
  }

  /** @inheritDoc */
  async listPendingUpdates(): Promise<QueuedUpdate[]> {
    return this.#queue.list(await this.pool())
  }

  /** @inheritDoc */
  async readProgress(updateName: string): Promise<JsonObject | null> {
    return this.#queue.readProgress(await this.pool(), updateName)
  }

  /** @inheritDoc */
  async insertUpdates(rows: readonly NewQueuedUpdate[]): Promise<void> {
    if (!Array.isArray(rows)) throw new TypeError('insertUpdates takes an array of rows')

    const normalized = rows.map(normalizeNewRow)
    if (normalized.length === 0) return
    await inTransaction(await this.pool(), (client) => this.#queue.insert(client, normalized))
  }

  /** @inheritDoc */
  async deleteUpdate(updateName: string): Promise<boolean> {
    return inTransaction(await this.pool(), (client) => this.#queue.delete(client, updateName))
  }

  /**
   * Applies a batch in one transaction: locks the lease row if it still carries the token's fence
   * and has not expired (else `lease_lost`), locks the update's row (else `update_missing`),
   * applies the writes, then stores the progress or deletes the row. A refused batch rolls back.
   *
   * @throws {MissingCapabilityError} A write names a capability or operation the adapter lacks.
   */
  async commitBatch(commit: BatchCommit): Promise<CommitResult> {
    return inTransaction(
      await this.pool(),
      (client) => this.#commitInTransaction(client, commit),
      (result) => result.committed,
    )
  }

  async #commitInTransaction(
    client: PostgresPoolClient,
    commit: BatchCommit,
  ): Promise<CommitResult> {
    if (this.#idleTimeoutMs > 0) {
      await client.query("SELECT set_config('idle_in_transaction_session_timeout', $1, true)", [
        String(this.#idleTimeoutMs),
      ])
    }
    if (commit.leaseToken && !(await this.lease.lockIfCurrent(client, commit.leaseToken))) {
      return { committed: false, reason: 'lease_lost' }
    }
    if (!(await this.#queue.lock(client, commit.updateName))) {
      return { committed: false, reason: 'update_missing' }
    }

    const report = await this.#applyWrites(client, commit.writes)
    if (commit.done) {
      await this.#queue.complete(client, commit.updateName)
    } else {
      const progress =
        typeof commit.progress === 'function' ? commit.progress(report) : commit.progress
      checkProgress(commit.updateName, progress)
      await this.#queue.writeProgress(client, commit.updateName, progress)
    }

    return { committed: true, report }
  }

  async #applyWrites(
    client: PostgresPoolClient,
    writes: readonly StorageWrite[],
  ): Promise<WriteReport> {
    const results: WriteResult[] = []
    let skippedCount = 0
    for (let index = 0; index < writes.length; index++) {
      const write = writes[index] as StorageWrite
      const replace = writes[index + 1]
      if (this.#fusable !== undefined && isResignPair(write, replace)) {
        // event_resign's undo entries and their replacements: one statement (see isResignPair).
        const pair = [write, replace as StorageWrite]
        const skippedAt = await appendAndReplace(
          this.#fusable,
          write,
          replace as StorageWrite,
          client,
        )
        for (const { capability, op, rows } of pair) {
          const skipped = skippedAt.map((position) => rows[position])
          skippedCount += skipped.length
          results.push({ capability, op, applied: rows.length - skipped.length, skipped })
        }
        index++
        continue
      }

      const operation = this.#installed.get(write.capability)?.operations[write.op]
      if (!operation) {
        throw new MissingCapabilityError('A batch write', [`${write.capability}.${write.op}`])
      }

      const skipped =
        write.rows.length === 0 ? [] : ((await operation(write, client))?.skipped ?? [])
      skippedCount += skipped.length
      results.push({
        capability: write.capability,
        op: write.op,
        applied: write.rows.length - skipped.length,
        skipped,
      })
    }

    return { writes: results, skippedCount }
  }

  #install(module: PostgresCapabilityModule, context: PostgresCapabilityContext): void {
    if (typeof module?.name !== 'string' || typeof module.install !== 'function') {
      throw new TypeError('A PostgreSQL capability module needs a name and an install function')
    }
    if (this.#installed.has(module.name)) throw new DuplicateCapabilityError(module.name)

    this.#installed.set(module.name, module.install(context))
  }

  #context(): PostgresCapabilityContext {
    return {
      query: async <R>(text: string, values: unknown[] = [], signal?: AbortSignal) => {
        signal?.throwIfAborted()
        return queryRows<R>(await this.pool(), text, values)
      },
      table: (name) => this.tableName(name),
      now: this.#now,
    }
  }
}

function checkSource(options: PostgresStorageAdapterOptions): PostgresPool | string {
  const pool = options?.pool
  const connectionString = options?.connectionString
  if ((pool === undefined) === (connectionString === undefined)) {
    throw new TypeError('PostgresStorageAdapter needs either a pool or a connectionString')
  }
  if (pool !== undefined) {
    if (typeof pool?.query !== 'function' || typeof pool.connect !== 'function') {
      throw new TypeError('pool must be a pg Pool: an object with query() and connect()')
    }
    return pool
  }
  if (typeof connectionString !== 'string' || connectionString === '') {
    throw new TypeError('connectionString must be a non-empty string')
  }

  return connectionString
}

function checkCount(name: string, value: unknown, minimum: number): number {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number`)
  if (!Number.isSafeInteger(value) || value < minimum) {
    throw new RangeError(`${name} must be an integer >= ${minimum}, got ${value}`)
  }

  return value
}

function checkSchema(schema: unknown): string | null {
  if (schema === undefined) return null
  if (typeof schema !== 'string') throw new TypeError('schema must be a string')
  if (!schemaPattern.test(schema)) {
    throw new RangeError(
      `schema must be up to 63 of [a-z0-9_], not starting with a digit, got ${JSON.stringify(schema)}`,
    )
  }

  return schema
}

function checkProgress(updateName: string, progress: unknown): asserts progress is JsonObject {
  if (typeof progress !== 'object' || progress === null || Array.isArray(progress)) {
    throw new TypeError(`progress of ${updateName} must be a JSON object`)
  }
}

function normalizeNewRow(row: NewQueuedUpdate): QueuedUpdate {
  if (typeof row?.update_name !== 'string' || row.update_name === '') {
    throw new TypeError('A queued update needs a non-empty string update_name')
  }

  const ordering = row.ordering ?? 0
  if (!Number.isSafeInteger(ordering) || Math.abs(ordering) > 2 ** 31 - 1) {
    throw new RangeError(
      `ordering of ${row.update_name} must be an integer within ±(2^31−1) (PostgreSQL INTEGER), got ${ordering}`,
    )
  }

  const dependsOn = row.depends_on ?? null
  if (dependsOn !== null && typeof dependsOn !== 'string') {
    throw new TypeError(`depends_on of ${row.update_name} must be a string or null`)
  }

  const progress = row.progress ?? {}
  checkProgress(row.update_name, progress)

  return { update_name: row.update_name, progress, depends_on: dependsOn, ordering }
}
