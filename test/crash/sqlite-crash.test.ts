/**
 * Crash recovery over SQLite: the scenario of crash-scenario.ts over a fresh SQLite file per
 * store, each in a temporary directory removed afterwards.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { SqliteHomeserver, SqliteStorageAdapter } from 'matrix-background-updates/sqlite'
import { type CrashStore, describeCrashRecovery } from './crash-scenario.js'

function sqliteStore(): CrashStore {
  const directory = mkdtempSync(join(tmpdir(), 'mbu-crash-'))
  const path = join(directory, 'homeserver.db')
  return {
    env: { CRASH_DB: path },
    open() {
      const storage = new SqliteStorageAdapter({ database: path, tablePrefix: 'mbu_' })
      return { storage, homeserver: new SqliteHomeserver(storage) }
    },
    async read() {
      const db = new Database(path, { readonly: true })
      try {
        const rows = db.prepare('SELECT event_id, json FROM mbu_event_json').all() as Array<{
          event_id: string
          json: string
        }>
        const events = db.prepare('SELECT COUNT(*) AS n FROM mbu_events').get() as { n: number }
        const undo = db.prepare('SELECT event_id FROM mbu_event_resign_undo_log').all() as Array<{
          event_id: string
        }>
        const queued = db.prepare('SELECT update_name FROM mbu_background_updates').all()
        return { rows, eventCount: events.n, undo: undo.map((row) => row.event_id), queued }
      } finally {
        db.close()
      }
    },
    async cleanup() {
      rmSync(directory, { recursive: true, force: true })
    },
  }
}

await describeCrashRecovery({
  label: 'SQLite',
  adapter: 'sqlite',
  killWindowMs: 60,
  skipReason: async () => null,
  setup: async () => async () => {},
  fresh: async () => sqliteStore(),
})
