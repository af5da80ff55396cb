import {
  applyStorageWrites,
  type BatchCommit,
  type CapabilityReader,
  type CommitResult,
  DuplicateCapabilityError,
  isCommonTransientError,
  type JsonObject,
  MatrixBackgroundUpdatesError,
  MissingCapabilityError,
  type NewQueuedUpdate,
  type QueuedUpdate,
  type StorageAdapter,
  type StorageWrite,
  type WriteReport,
} from 'matrix-background-updates'
import { checkTablePrefix } from '../sql/schema.js'
import { builtInSqliteCapabilities } from './sqlite-capabilities.js'
import type {
  SqliteCapabilityContext,
  SqliteCapabilityInstance,
  SqliteCapabilityModule,
} from './sqlite-capability.js'
import { openSqliteDatabase, type SqliteDatabase, type SqliteStatement } from './sqlite-driver.js'
import { SqliteLease } from './sqlite-lease.js'
import { migrateSqlite, type SqliteMigrationResult } from './sqlite-migrate.js'
import { SqliteQueue } from './sqlite-queue.js'

/** Options of {@link SqliteStorageAdapter}. */
export interface SqliteStorageAdapterOptions {
  /**
   * An open better-sqlite3 `Database` (used as configured), or a file name (or `:memory:`) to open
   * with better-sqlite3 on first use, in WAL mode.
   */
  readonly database: SqliteDatabase | string

  /** A prefix for every table of the reference schema, such as `mbu_`. Default `''`. */
  readonly tablePrefix?: string

  /**
   * The capability modules. Default: every built-in one, over the reference schema. A host with
   * its own schema passes its own modules.
   */
  readonly capabilities?: readonly SqliteCapabilityModule[]

  /** The clock of the lease. Default `Date.now`. */
  readonly clock?: { now(): number }

  /** How long to wait for a locked file before SQLITE_BUSY, for files it opens. Default 5000. */
  readonly busyTimeoutMs?: number

  /** Classifies errors as transient. Default {@link isCommonTransientError}. */
  readonly isTransientError?: (error: unknown) => boolean
}

/**
 * Every storage contract over SQLite with better-sqlite3: the queue, the lease, and the capabilities
 * of the built-in jobs over the reference schema. A batch's writes, its progress and, when done,
 * the deletion of its row commit in one synchronous transaction. Call {@link migrate} once first.
 *
 * @example
 * ```ts
 * const storage = new SqliteStorageAdapter({ database: 'homeserver.db' })
 * await storage.migrate()
 * const runner = new BackgroundUpdateRunner({ storage })
 * ```
 */
export class SqliteStorageAdapter implements StorageAdapter {
  /** The lease shared by every process that opens the database. */
  readonly lease: SqliteLease

  readonly #source: SqliteDatabase | string
  readonly #prefix: string
  readonly #busyTimeoutMs: number
  readonly #now: () => number
  readonly #isTransient: (error: unknown) => boolean
  readonly #installed = new Map<string, SqliteCapabilityInstance>()
  readonly #statements = new Map<string, SqliteStatement>()
  readonly #queue: SqliteQueue
  #database: SqliteDatabase | null = null
  #opening: Promise<SqliteDatabase> | null = null

  /**
   * Creates the adapter. Opens nothing yet.
   *
   * @throws {TypeError} An option has the wrong type.
   * @throws {RangeError} The table prefix or the busy timeout is out of range.
   * @throws {DuplicateCapabilityError} Two modules have the same name.
   */
  constructor(options: SqliteStorageAdapterOptions) {
    const source = options?.database
    if (typeof source !== 'string' && typeof source?.prepare !== 'function') {
      throw new TypeError(
        'SqliteStorageAdapter needs a database: a better-sqlite3 Database or a file name',
      )
    }
    this.#source = source
    this.#prefix = checkTablePrefix(options.tablePrefix ?? '')
    this.#busyTimeoutMs = checkTimeout(options.busyTimeoutMs ?? 5000)
    const clock = options.clock
    this.#now = clock ? () => clock.now() : () => Date.now()
    this.#isTransient = options.isTransientError ?? isCommonTransientError
    if (typeof source !== 'string') this.#database = source
    const context = this.#context()
    this.#queue = new SqliteQueue(context)
    this.lease = new SqliteLease(context)
    for (const module of options.capabilities ?? builtInSqliteCapabilities) {
      this.#install(module, context)
    }
  }

  /** The names of the installed capabilities. */
  get capabilities(): readonly string[] {
    return [...this.#installed.keys()]
  }

  /** The table prefix. */
  get tablePrefix(): string {
    return this.#prefix
  }

  /**
   * Creates or upgrades the reference schema: versioned, idempotent, and safe when several
   * processes migrate at once.
   *
   * @throws {SchemaVersionError} The database has a newer schema than this library knows.
   */
  async migrate(): Promise<SqliteMigrationResult> {
    const database = await this.#open()
    return migrateSqlite(database, this.#prefix, this.#now())
  }

  /** The open database, opening the file on first use. */
  async database(): Promise<SqliteDatabase> {
    return this.#open()
  }

  /** Closes the database if this adapter opened it; a database passed in is left open. */
  async close(): Promise<void> {
    const database = this.#database
    if (typeof this.#source === 'string' && database) database.close()
    this.#database = null
    this.#opening = null
    this.#statements.clear()
  }

  /**
   * The installed instance of a capability.
   *
   * @throws {MissingCapabilityError} No module of that name is installed.
   */
  instance<I extends SqliteCapabilityInstance>(capability: string): I {
    const instance = this.#installed.get(capability)
    if (!instance) throw new MissingCapabilityError('This SQLite adapter', [capability])

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
    await this.#open()
    return this.#queue.list()
  }

  /** @inheritDoc */
  async readProgress(updateName: string): Promise<JsonObject | null> {
    await this.#open()
    return this.#queue.readProgress(updateName)
  }

  /** @inheritDoc */
  async insertUpdates(rows: readonly NewQueuedUpdate[]): Promise<void> {
    if (!Array.isArray(rows)) throw new TypeError('insertUpdates takes an array of rows')

    const normalized = rows.map(normalizeNewRow)
    const database = await this.#open()
    database.transaction(() => this.#queue.insert(normalized)).immediate()
  }

  /** @inheritDoc */
  async deleteUpdate(updateName: string): Promise<boolean> {
    const database = await this.#open()
    return database.transaction(() => this.#queue.delete(updateName)).immediate()
  }

  /** @inheritDoc */
  async commitBatch(commit: BatchCommit): Promise<CommitResult> {
    const database = await this.#open()
    return database.transaction(() => this.#commitInTransaction(commit)).immediate()
  }

  #commitInTransaction(commit: BatchCommit): CommitResult {
    if (commit.leaseToken && !this.lease.isCurrent(commit.leaseToken)) {
      return { committed: false, reason: 'lease_lost' }
    }
    if (!this.#queue.has(commit.updateName)) return { committed: false, reason: 'update_missing' }

    const report = this.#applyWrites(commit.writes)
    if (commit.done) {
      this.#queue.complete(commit.updateName)
    } else {
      const progress =
        typeof commit.progress === 'function' ? commit.progress(report) : commit.progress
      checkProgress(commit.updateName, progress)
      this.#queue.writeProgress(commit.updateName, progress)
    }

    return { committed: true, report }
  }

  #applyWrites(writes: readonly StorageWrite[]): WriteReport {
    return applyStorageWrites(
      writes,
      (write) => this.#installed.get(write.capability)?.operations[write.op],
    )
  }

  #install(module: SqliteCapabilityModule, context: SqliteCapabilityContext): void {
    if (typeof module?.name !== 'string' || typeof module.install !== 'function') {
      throw new TypeError('A SQLite capability module needs a name and an install function')
    }
    if (this.#installed.has(module.name)) throw new DuplicateCapabilityError(module.name)

    this.#installed.set(module.name, module.install(context))
  }

  #context(): SqliteCapabilityContext {
    return {
      open: async () => {
        await this.#open()
      },
      database: () => this.#openDatabase(),
      statement: (source) => this.#statement(source),
      table: (name) => this.#prefix + name,
      now: this.#now,
    }
  }

  #openDatabase(): SqliteDatabase {
    if (!this.#database) {
      throw new MatrixBackgroundUpdatesError(
        'ERR_SQLITE_NOT_OPEN',
        'The SQLite database is not open yet: await context.open() before the first statement',
      )
    }

    return this.#database
  }

  #statement(source: string): SqliteStatement {
    let statement = this.#statements.get(source)
    if (!statement) {
      statement = this.#openDatabase().prepare(source)
      this.#statements.set(source, statement)
    }

    return statement
  }

  async #open(): Promise<SqliteDatabase> {
    if (this.#database) return this.#database
    if (typeof this.#source !== 'string') {
      this.#database = this.#source
      return this.#source
    }

    this.#opening ??= openSqliteDatabase(this.#source, this.#busyTimeoutMs)
    try {
      this.#database = await this.#opening
    } finally {
      this.#opening = null
    }
    return this.#database
  }
}

function checkTimeout(ms: unknown): number {
  if (typeof ms !== 'number') throw new TypeError('busyTimeoutMs must be a number')
  if (!Number.isSafeInteger(ms) || ms < 0) {
    throw new RangeError(`busyTimeoutMs must be an integer >= 0, got ${ms}`)
  }

  return ms
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
  if (!Number.isSafeInteger(ordering)) {
    throw new RangeError(`ordering of ${row.update_name} must be a safe integer, got ${ordering}`)
  }

  const dependsOn = row.depends_on ?? null
  if (dependsOn !== null && typeof dependsOn !== 'string') {
    throw new TypeError(`depends_on of ${row.update_name} must be a string or null`)
  }

  const progress = row.progress ?? {}
  checkProgress(row.update_name, progress)

  return { update_name: row.update_name, progress, depends_on: dependsOn, ordering }
}
