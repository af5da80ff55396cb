import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { SchemaVersionError, StoredRowError } from 'matrix-background-updates'
import { SqliteStorageAdapter } from 'matrix-background-updates/sqlite'
import { FakeClock } from 'matrix-background-updates/testing'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

let directory: string
let opened: SqliteStorageAdapter[]

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'mbu-sqlite-test-'))
  opened = []
})

afterEach(async () => {
  for (const adapter of opened) await adapter.close()
  rmSync(directory, { recursive: true, force: true })
})

/** An adapter over `homeserver.db` in the test's temp dir, closed after the test. */
function adapterOnFile(
  options: { tablePrefix?: string; clock?: FakeClock; busyTimeoutMs?: number } = {},
) {
  const adapter = new SqliteStorageAdapter({
    database: join(directory, 'homeserver.db'),
    ...options,
  })
  opened.push(adapter)
  return adapter
}

describe('migrate', () => {
  it('creates the schema once and finds nothing to do the second time', async () => {
    const adapter = adapterOnFile()

    expect(await adapter.migrate()).toEqual({ fromVersion: 0, toVersion: 1 })
    expect(await adapter.migrate()).toEqual({ fromVersion: 1, toVersion: 1 })
    expect(await adapterOnFile().migrate()).toEqual({ fromVersion: 1, toVersion: 1 })
  })

  it('creates every table under the prefix and none without it', async () => {
    await adapterOnFile({ tablePrefix: 'mbu_' }).migrate()
    const database = new Database(join(directory, 'homeserver.db'))
    const names = (
      database.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as {
        name: string
      }[]
    ).map((row) => row.name)
    database.close()

    expect(names.length).toBeGreaterThan(20)
    expect(names.filter((name) => !name.startsWith('mbu_'))).toEqual([])
    expect(names).toContain('mbu_background_updates')
    expect(names).toContain('mbu_event_resign_undo_log')
  })

  it('refuses a database whose schema is newer than the library knows, changing nothing', async () => {
    await adapterOnFile().migrate()
    const database = new Database(join(directory, 'homeserver.db'))
    database.prepare('UPDATE background_updates_schema_version SET version = 99').run()
    database.close()

    const error = await adapterOnFile()
      .migrate()
      .catch((caught: unknown) => caught)

    expect(error).toBeInstanceOf(SchemaVersionError)
    expect((error as SchemaVersionError).databaseVersion).toBe(99)
  })

  it('reports a locked file as transient, and migrates once the lock is gone', async () => {
    const locker = new Database(join(directory, 'homeserver.db'))
    locker.exec('BEGIN IMMEDIATE')
    const adapter = adapterOnFile({ busyTimeoutMs: 0 })

    const busy = await adapter.migrate().catch((caught: unknown) => caught)
    locker.exec('ROLLBACK')
    locker.close()

    expect(adapter.isTransientError(busy)).toBe(true)
    expect((await adapter.migrate()).toVersion).toBe(1)
  })
})

describe('SqliteStorageAdapter', () => {
  it('refuses a table prefix that would need quoting', () => {
    expect(() => adapterOnFile({ tablePrefix: 'bad-prefix' })).toThrow(RangeError)
    expect(() => new SqliteStorageAdapter({ database: 42 as never })).toThrow(TypeError)
  })

  it('keeps the data of two prefixes in one file apart', async () => {
    const one = adapterOnFile({ tablePrefix: 'one_' })
    const two = adapterOnFile({ tablePrefix: 'two_' })
    await one.migrate()
    await two.migrate()

    await one.insertUpdates([{ update_name: 'only_in_one' }])

    expect((await two.listPendingUpdates()).length).toBe(0)
    expect((await one.listPendingUpdates()).length).toBe(1)
  })

  it('opens files it is given by name in WAL mode', async () => {
    const adapter = adapterOnFile()
    await adapter.migrate()
    const database = await adapter.database()

    expect(database.pragma('journal_mode', { simple: true })).toBe('wal')
  })

  it('uses a database instance it is given and leaves it open when closed', async () => {
    const database = new Database(':memory:')
    const adapter = new SqliteStorageAdapter({ database })
    await adapter.migrate()
    await adapter.insertUpdates([{ update_name: 'a' }])
    await adapter.close()

    expect(database.open).toBe(true)
    expect((await adapter.listPendingUpdates()).map((row) => row.update_name)).toEqual(['a'])
    expect(database.prepare('SELECT update_name FROM background_updates').all()).toEqual([
      { update_name: 'a' },
    ])
    database.close()
  })

  it('shares the lease between two adapters on one file', async () => {
    const clock = new FakeClock(1000)
    const one = adapterOnFile({ clock })
    const two = adapterOnFile({ clock })
    await one.migrate()

    const held = await one.lease.acquire('one', 5000)

    expect(held?.fence).toBe(1)
    expect(await two.lease.acquire('two', 5000)).toBe(null)
    await two.lease.writeEnabled(false)
    expect(await one.lease.readEnabled()).toBe(false)
  })

  it('refuses to read a stream ordering beyond the safe integer range', async () => {
    const adapter = adapterOnFile()
    await adapter.migrate()
    const database = await adapter.database()
    database
      .prepare(
        "INSERT INTO events (stream_ordering, event_id, room_id, type, sender) VALUES (9007199254740993, '$big', '!r:x', 't', '@a:x')",
      )
      .run()
    database
      .prepare("INSERT INTO event_json (event_id, room_id, json) VALUES ('$big', '!r:x', '{}')")
      .run()
    const events = adapter.reader('events')

    const page = await events
      .pageOwnEvents({ serverName: 'x', after: 0, beforeTs: null, limit: 10 })
      .catch((caught: unknown) => caught)

    expect(page).toBeInstanceOf(StoredRowError)
    expect(await events.streamOrderingBounds().catch((caught: unknown) => caught)).toBeInstanceOf(
      StoredRowError,
    )
  })

  it('reports queued progress that is not a JSON object as a stored row error', async () => {
    const adapter = adapterOnFile()
    await adapter.migrate()
    const database = await adapter.database()
    database
      .prepare("INSERT INTO background_updates (update_name, progress_json) VALUES ('u', '[1]')")
      .run()

    expect(await adapter.readProgress('u').catch((caught: unknown) => caught)).toBeInstanceOf(
      StoredRowError,
    )
  })

  it('writes nothing of a batch whose lease token is stale', async () => {
    const clock = new FakeClock(1000)
    const adapter = adapterOnFile({ clock })
    await adapter.migrate()
    await adapter.insertUpdates([{ update_name: 'u' }])
    const token = await adapter.lease.acquire('one', 100)
    clock.tick(100)

    const result = await adapter.commitBatch({
      updateName: 'u',
      writes: [],
      progress: { x: 1 },
      done: true,
      leaseToken: token,
    })

    expect(result).toEqual({ committed: false, reason: 'lease_lost' })
    expect(await adapter.readProgress('u')).toEqual({})
  })
})
