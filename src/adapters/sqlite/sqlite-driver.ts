/**
 * The slice of better-sqlite3 the adapter uses, typed structurally so the package is never needed
 * at compile time and any compatible driver fits.
 */

/** What a statement's `run` reports. */
export interface SqliteRunResult {
  /** How many rows the statement inserted, updated or deleted. */
  readonly changes: number
}

/** A prepared statement. */
export interface SqliteStatement {
  /** Executes it and reports the rows changed. */
  run(...parameters: unknown[]): SqliteRunResult
  /** The first row, or undefined. */
  get(...parameters: unknown[]): unknown
  /** Every row. */
  all(...parameters: unknown[]): unknown[]
}

/** A transaction function made by {@link SqliteDatabase.transaction}. */
export interface SqliteTransaction<T> {
  /** Runs the function inside `BEGIN`. */
  (): T
  /** Runs the function inside `BEGIN IMMEDIATE`: the write lock is taken at once. */
  immediate(): T
}

/** An open database, as better-sqlite3's `Database` class gives it. */
export interface SqliteDatabase {
  /** Compiles one statement. */
  prepare(source: string): SqliteStatement
  /** Runs statements that return nothing, such as DDL. */
  exec(source: string): unknown
  /** Reads or sets a pragma. */
  pragma(source: string, options?: { simple?: boolean }): unknown
  /** Wraps `fn` in a transaction: committed when it returns, rolled back when it throws. */
  transaction<T>(fn: () => T): SqliteTransaction<T>
  /** Closes the connection. */
  close(): unknown
}

/** better-sqlite3's constructor, as the module's default export. */
type SqliteDatabaseConstructor = new (filename: string) => SqliteDatabase

/**
 * Opens a database file (or `:memory:`) with better-sqlite3, loaded only now, so the package stays
 * an optional peer dependency. Files are switched to WAL, and a busy database is waited for up to
 * `busyTimeoutMs` before SQLITE_BUSY.
 *
 * @throws {Error} better-sqlite3 is not installed or the file cannot be opened.
 */
export async function openSqliteDatabase(
  filename: string,
  busyTimeoutMs: number,
): Promise<SqliteDatabase> {
  const module = (await import('better-sqlite3')) as unknown as {
    default: SqliteDatabaseConstructor
  }
  const database = new module.default(filename)
  try {
    database.pragma(`busy_timeout = ${busyTimeoutMs}`)
    if (filename !== ':memory:' && filename !== '') await switchToWal(database, busyTimeoutMs)
  } catch (error) {
    database.close()
    throw error
  }

  return database
}

/**
 * Switches a file to WAL. When several processes open a new file at once, SQLite may answer
 * SQLITE_BUSY at once instead of calling the busy handler, so the switch is retried until
 * `busyTimeoutMs` has passed.
 */
async function switchToWal(database: SqliteDatabase, busyTimeoutMs: number): Promise<void> {
  const deadline = Date.now() + busyTimeoutMs
  for (;;) {
    try {
      database.pragma('journal_mode = WAL')
      return
    } catch (error) {
      const code = (error as { code?: unknown })?.code
      if (code !== 'SQLITE_BUSY' || Date.now() >= deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }
}
