/**
 * Crash recovery over PostgreSQL: the scenario of crash-scenario.ts in a fresh database made for
 * this run and dropped after it, one fresh schema per store. Skipped with a notice when no server
 * answers, except under CI=true, where it fails.
 */

import { PostgresHomeserver, PostgresStorageAdapter } from 'matrix-background-updates/postgres'
import pg from 'pg'
import {
  connectionStringFor,
  createDatabase,
  freshName,
  postgresSkipReason,
} from '../postgres/postgres-server.js'
import { type CrashStore, describeCrashRecovery } from './crash-scenario.js'

let connectionString = ''
let reader: pg.Pool | undefined

function postgresStore(): CrashStore {
  const schema = freshName('crash')
  const open = () => {
    const storage = new PostgresStorageAdapter({ connectionString, schema, maxConnections: 2 })
    return { storage, homeserver: new PostgresHomeserver(storage) }
  }
  return {
    env: { CRASH_DB: connectionString, CRASH_SCHEMA: schema },
    open,
    async read() {
      const { storage } = open()
      const table = (name: string) => storage.tableName(name)
      const pool = reader as pg.Pool
      const rows = await pool.query<{ event_id: string; json: string }>(
        `SELECT event_id, json FROM ${table('event_json')}`,
      )
      const events = await pool.query<{ n: number }>(
        `SELECT COUNT(*)::int AS n FROM ${table('events')}`,
      )
      const undo = await pool.query<{ event_id: string }>(
        `SELECT event_id FROM ${table('event_resign_undo_log')}`,
      )
      const queued = await pool.query(`SELECT update_name FROM ${table('background_updates')}`)
      return {
        rows: rows.rows,
        eventCount: events.rows[0]?.n ?? -1,
        undo: undo.rows.map((row) => row.event_id),
        queued: queued.rows,
      }
    },
    async cleanup() {
      // The run's database is dropped with everything in it.
    },
  }
}

await describeCrashRecovery({
  label: 'PostgreSQL',
  adapter: 'postgres',
  killWindowMs: 600,
  skipReason: postgresSkipReason,
  async setup() {
    const database = await createDatabase('crash')
    connectionString = connectionStringFor(database.name)
    reader = new pg.Pool({ connectionString, max: 2 })
    return async () => {
      await reader?.end()
      await database.drop()
    }
  },
  fresh: async () => postgresStore(),
})
