import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SqliteHomeserver, SqliteStorageAdapter } from 'matrix-background-updates/sqlite'
import {
  type ContractSubject,
  createHomeserverStorage,
  type FakeClock,
} from 'matrix-background-updates/testing'

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

const all: readonly TestAdapter[] = [
  {
    name: 'memory',
    make: async (clock) => createHomeserverStorage({ clock }),
  },
  { name: 'sqlite', make: sqliteFile },
]

/**
 * The adapters to test: every one, or those named in the `ADAPTERS` environment variable
 * (`ADAPTERS=sqlite`, `ADAPTERS=memory,sqlite`).
 */
export const ADAPTERS: readonly TestAdapter[] = (() => {
  const wanted = process.env.ADAPTERS?.split(',').map((name) => name.trim())
  if (!wanted) return all

  const unknown = wanted.filter((name) => !all.some((adapter) => adapter.name === name))
  if (unknown.length > 0) throw new Error(`Unknown adapters in ADAPTERS: ${unknown.join(', ')}`)

  return all.filter((adapter) => wanted.includes(adapter.name))
})()
