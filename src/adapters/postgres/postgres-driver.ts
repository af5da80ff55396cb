/**
 * The slice of node-postgres (`pg` 8) the adapter uses, typed structurally so the package is never
 * needed at compile time and any compatible pool fits.
 */

/** What a query resolves with. */
export interface PostgresQueryResult {
  /** The rows, one object per row, keyed by column name. */
  readonly rows: unknown[]

  /** How many rows the statement inserted, updated, deleted or returned. */
  readonly rowCount: number | null
}

/** Anything that runs a parameterized statement: a pool or a client checked out of it. */
export interface PostgresQueryable {
  /** Runs `text` with `$1`, `$2`, … bound to `values`. */
  query(text: string, values?: unknown[]): Promise<PostgresQueryResult>
}

/** A client checked out of a pool: one connection, so one transaction at a time. */
export interface PostgresPoolClient extends PostgresQueryable {
  /** Gives the client back; with an error, the pool discards the connection instead. */
  release(error?: Error | boolean): void

  /**
   * Listens for the connection's errors. `pg` emits 'error' on a checked-out client whose
   * connection drops while no query runs; without a listener, Node ends the process.
   */
  on?(event: 'error', listener: (error: Error) => void): unknown

  /** Stops listening. */
  removeListener?(event: 'error', listener: (error: Error) => void): unknown
}

/** A pool of connections, as `pg`'s `Pool` class gives it. */
export interface PostgresPool extends PostgresQueryable {
  /** Checks a client out for a transaction. */
  connect(): Promise<PostgresPoolClient>

  /** Closes every connection. */
  end(): Promise<void>
}

/** `pg`'s `Pool` constructor, as the module's default export has it. */
type PostgresPoolConstructor = new (config: {
  connectionString: string
  max?: number
}) => PostgresPool

/**
 * Makes a `pg` pool for a connection string, loading `pg` only now, so it stays an optional peer
 * dependency.
 *
 * @throws {Error} `pg` is not installed or does not load (the cause says why).
 */
export async function openPostgresPool(
  connectionString: string,
  maxConnections: number,
): Promise<PostgresPool> {
  let module: { default: { Pool: PostgresPoolConstructor } }
  try {
    module = (await import('pg')) as unknown as typeof module
  } catch (error) {
    throw new Error(
      'pg could not be loaded; install it with `npm install pg`, or give the adapter a pool',
      { cause: error },
    )
  }
  const pool = new module.default.Pool({ connectionString, max: maxConnections })
  // An idle client whose connection drops emits 'error' on the pool; without a listener the
  // process would exit. The next query reports the problem instead.
  ;(pool as unknown as { on?: (event: string, listener: () => void) => void }).on?.(
    'error',
    () => {},
  )

  return pool
}

/** The rows of a statement, typed by the caller. */
export async function queryRows<R>(
  queryable: PostgresQueryable,
  text: string,
  values: unknown[] = [],
): Promise<R[]> {
  const result = await queryable.query(text, values)
  return result.rows as R[]
}

/**
 * Runs `work` in a transaction on one client of `pool`: `COMMIT` when it resolves and `keep` says
 * so, `ROLLBACK` otherwise or when it rejects. A client whose connection dropped or whose rollback
 * failed is discarded, not returned to the pool.
 *
 * The connection can drop between two statements (the server ended an idle transaction, say, while
 * this process was paused); the client's error is then kept, the next statement fails with a
 * connection error the runner retries, and the process goes on.
 */
export async function inTransaction<T>(
  pool: PostgresPool,
  work: (client: PostgresPoolClient) => Promise<T>,
  keep: (result: T) => boolean = () => true,
): Promise<T> {
  const client = await pool.connect()
  let broken: Error | undefined
  const onError = (error: Error) => {
    broken ??= error
  }
  client.on?.('error', onError)
  try {
    await client.query('BEGIN')
    const result = await work(client)
    await client.query(keep(result) ? 'COMMIT' : 'ROLLBACK')
    return result
  } catch (error) {
    broken ??= await rollback(client)
    throw error
  } finally {
    client.removeListener?.('error', onError)
    client.release(broken)
  }
}

/** Rolls back after a failure; resolves with the error when even that fails. */
async function rollback(client: PostgresPoolClient): Promise<Error | undefined> {
  try {
    await client.query('ROLLBACK')
    return undefined
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error))
  }
}
