import { randomBytes } from 'node:crypto'
import pg from 'pg'

/**
 * The test server's settings: `DATABASE_URL` when set, else the standard `PG*` variables, with
 * this project's defaults (127.0.0.1:5432, user `postgres`, trust auth, database `postgres`).
 */
export function serverConfig(database?: string): pg.PoolConfig {
  const url = process.env.DATABASE_URL
  if (url) {
    if (database === undefined) return { connectionString: url }
    const target = new URL(url)
    target.pathname = `/${database}`
    return { connectionString: target.toString() }
  }

  return {
    host: process.env.PGHOST ?? '127.0.0.1',
    port: Number(process.env.PGPORT ?? 5432),
    user: process.env.PGUSER ?? 'postgres',
    password: process.env.PGPASSWORD,
    database: database ?? process.env.PGDATABASE ?? 'postgres',
  }
}

/** A connection string for `database` on the test server, for child processes and the adapter. */
export function connectionStringFor(database: string): string {
  const config = serverConfig(database)
  if (config.connectionString) return config.connectionString

  const user = encodeURIComponent(config.user ?? 'postgres')
  const password = config.password ? `:${encodeURIComponent(String(config.password))}` : ''
  return `postgres://${user}${password}@${config.host}:${config.port}/${database}`
}

/** Why the server cannot be used, or null when it answers. */
async function unreachableReason(): Promise<string | null> {
  const client = new pg.Client({ ...serverConfig(), connectionTimeoutMillis: 3000 })
  try {
    await client.connect()
    await client.query('SELECT 1')
    return null
  } catch (error) {
    return (error as Error).message
  } finally {
    await client.end().catch(() => {})
  }
}

let skipReason: Promise<string | null> | undefined

/**
 * Why the PostgreSQL suites are skipped, or null when they run. With no server they are skipped
 * with a notice, unless `CI=true`: there they run, and fail.
 */
export function postgresSkipReason(): Promise<string | null> {
  skipReason ??= unreachableReason().then((reason) => {
    if (reason === null || process.env.CI === 'true') return null

    const notice = `PostgreSQL is not reachable (${reason}): skipping the PostgreSQL suites`
    console.warn(`\n*** ${notice}. Start it, or set PG* / DATABASE_URL. ***\n`)
    return notice
  })
  return skipReason
}

/** A fresh name for a schema or database of this run: letters, digits and underscores. */
export function freshName(kind: string): string {
  return `mbu_${kind}_${process.pid}_${randomBytes(4).toString('hex')}`
}

/** Creates a fresh database, returns its name and a function that drops it (ending sessions). */
export async function createDatabase(
  kind: string,
): Promise<{ name: string; drop(): Promise<void> }> {
  const name = freshName(kind)
  const admin = new pg.Client(serverConfig())
  await admin.connect()
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8'`)
  } finally {
    await admin.end()
  }

  return {
    name,
    async drop() {
      const client = new pg.Client(serverConfig())
      await client.connect()
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      } finally {
        await client.end()
      }
    },
  }
}
