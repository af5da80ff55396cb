import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PostgresHomeserver, PostgresStorageAdapter } from 'matrix-background-updates/postgres'
import { SqliteHomeserver, SqliteStorageAdapter } from 'matrix-background-updates/sqlite'
import {
  type ContractSubject,
  createHomeserverStorage,
  type FakeClock,
} from 'matrix-background-updates/testing'
import pg from 'pg'
import { freshName, postgresSkipReason, serverConfig } from '../postgres/postgres-server.js'

/** One adapter the shared suites run against. */
export interface TestAdapter {
  readonly name: string
  make(clock: FakeClock): Promise<ContractSubject>
}

async function sqliteFile(clock: FakeClock): Promise<ContractSubject> {
  const directory = mkdtempSync(join(tmpdir(), 'mbu-sqlite-'))
  const storage = new SqliteStorageAdapter({
    database: join(directory, 'homeserver.db'),
    tablePrefix: 'mbu_',
    clock,
  })
  await storage.migrate()

  return {
    storage,
    homeserver: new SqliteHomeserver(storage),
    async close() {
      await storage.close()
      rmSync(directory, { recursive: true, force: true })
    },
  }
}

/** A fresh schema of the test server per subject, dropped with it. */
async function postgresSchema(clock: FakeClock): Promise<ContractSubject> {
  const pool = new pg.Pool({ ...serverConfig(), max: 4 })
  const schema = freshName('contract')
  const storage = new PostgresStorageAdapter({ pool, schema, tablePrefix: 'mbu_', clock })
  await storage.migrate()

  return {
    storage,
    homeserver: new PostgresHomeserver(storage),
    async close() {
      await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
      await pool.end()
    },
  }
}

const all: readonly TestAdapter[] = [
  {
    name: 'memory',
    make: async (clock) => createHomeserverStorage({ clock }),
  },
  { name: 'sqlite', make: sqliteFile },
  { name: 'postgres', make: postgresSchema },
]

/**
 * The adapters to test: every one, or those named in the `ADAPTERS` environment variable
 * (`ADAPTERS=sqlite`, `ADAPTERS=memory,sqlite`). PostgreSQL is left out, with a notice, when no
 * server answers, except under `CI=true`.
 */
export const ADAPTERS: readonly TestAdapter[] = await (async () => {
  const wanted = process.env.ADAPTERS?.split(',').map((name) => name.trim())
  const unknown = (wanted ?? []).filter((name) => !all.some((adapter) => adapter.name === name))
  if (unknown.length > 0) throw new Error(`Unknown adapters in ADAPTERS: ${unknown.join(', ')}`)

  const chosen = wanted ? all.filter((adapter) => wanted.includes(adapter.name)) : all
  const skipPostgres = chosen.some((adapter) => adapter.name === 'postgres')
    ? (await postgresSkipReason()) !== null
    : false
  return skipPostgres ? chosen.filter((adapter) => adapter.name !== 'postgres') : chosen
})()
