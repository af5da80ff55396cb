import {
  APPEND_UNDO_LOG,
  EVENTS_CAPABILITY,
  REPLACE_EVENT_JSON,
  SchemaVersionError,
  StoredRowError,
  UNDO_LOG_CAPABILITY,
} from 'matrix-background-updates'
import {
  isPostgresTransientError,
  PostgresHomeserver,
  type PostgresPool,
  type PostgresQueryable,
  PostgresStorageAdapter,
  type PostgresStorageAdapterOptions,
} from 'matrix-background-updates/postgres'
import pg from 'pg'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { freshName, postgresSkipReason, serverConfig } from './postgres-server.js'

const skip = await postgresSkipReason()
let pool: pg.Pool
let schema: string

beforeEach(() => {
  if (skip) return
  pool = new pg.Pool({ ...serverConfig(), max: 8 })
  schema = freshName('unit')
})

afterEach(async () => {
  if (skip) return
  await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  await pool.end()
})

function adapter(options: Partial<PostgresStorageAdapterOptions> = {}) {
  return new PostgresStorageAdapter({ pool, schema, ...options })
}

/** A pool that counts the statements sent through it and its clients. */
function countingPool(target: pg.Pool): { pool: PostgresPool; statements: string[] } {
  const statements: string[] = []
  const counting: PostgresPool = {
    query: (text, values) => {
      statements.push(text)
      return target.query(text, values)
    },
    async connect() {
      const client = await target.connect()
      return {
        query: (text, values) => {
          statements.push(text)
          return client.query(text, values)
        },
        release: (error) => client.release(error),
      }
    },
    end: () => target.end(),
  }
  return { pool: counting, statements }
}

function event(index: number) {
  return {
    event: {
      event_id: `$e${index}`,
      room_id: '!r:example.org',
      type: 'm.room.message',
      sender: `@u:example.org`,
      content: { body: `${index}` },
    },
    stream_ordering: index,
    room_version: '10',
  }
}

describe.skipIf(skip)('PostgresStorageAdapter migrate', () => {
  it('creates the schema once and finds nothing to do the second time', async () => {
    expect(await adapter().migrate()).toEqual({ fromVersion: 0, toVersion: 1 })
    expect(await adapter().migrate()).toEqual({ fromVersion: 1, toVersion: 1 })
  })

  it('creates every table in its schema under the prefix', async () => {
    await adapter({ tablePrefix: 'mbu_' }).migrate()
    const result = await pool.query(
      'SELECT table_name FROM information_schema.tables WHERE table_schema = $1',
      [schema],
    )
    const names = result.rows.map((row) => row.table_name as string)

    expect(names.length).toBeGreaterThan(20)
    expect(names.filter((name) => !name.startsWith('mbu_'))).toEqual([])
    expect(names).toContain('mbu_event_resign_undo_log')
  })

  it('migrates exactly once when several connections migrate at once', async () => {
    const results = await Promise.all(Array.from({ length: 4 }, () => adapter().migrate()))

    expect(results.filter((result) => result.fromVersion === 0).length).toBe(1)
    expect(results.every((result) => result.toVersion === 1)).toBe(true)
  })

  it('refuses a database whose schema is newer than the library knows, changing nothing', async () => {
    await adapter().migrate()
    await pool.query(`UPDATE ${schema}.background_updates_schema_version SET version = 99`)

    const error = await adapter()
      .migrate()
      .catch((caught: unknown) => caught)

    expect(error).toBeInstanceOf(SchemaVersionError)
    expect(
      (await pool.query(`SELECT version FROM ${schema}.background_updates_schema_version`)).rows[0],
    ).toEqual({ version: 99 })
  })
})

describe.skipIf(skip)('PostgresStorageAdapter', () => {
  it('refuses options of the wrong shape with typed errors', () => {
    expect(() => new PostgresStorageAdapter({} as never)).toThrow(TypeError)
    expect(() => new PostgresStorageAdapter({ pool, connectionString: 'postgres://x' })).toThrow(
      TypeError,
    )
    expect(() => adapter({ schema: 'Bad-Name' })).toThrow(RangeError)
    expect(() => adapter({ tablePrefix: 'x;' })).toThrow(RangeError)
    expect(() => adapter({ idleInTransactionTimeoutMs: -1 })).toThrow(RangeError)
  })

  it('refuses an ordering PostgreSQL INTEGER cannot hold, queueing nothing', async () => {
    const storage = adapter()
    await storage.migrate()

    await expect(
      storage.insertUpdates([{ update_name: 'u', ordering: 2 ** 31 }]),
    ).rejects.toBeInstanceOf(RangeError)
    expect(await storage.listPendingUpdates()).toEqual([])
  })

  it('reads stream orderings as safe integers and refuses one beyond ±(2^53−1)', async () => {
    const storage = adapter()
    await storage.migrate()
    const home = new PostgresHomeserver(storage)
    await home.addEvents([event(1), { ...event(2), stream_ordering: -(2 ** 53 - 1) }])
    const events = storage.reader('events')
    const query = { serverName: 'example.org', after: -(2 ** 53), beforeTs: null, limit: 10 }

    expect((await events.pageOwnEvents(query)).map((row) => row.stream_ordering)).toEqual([
      -(2 ** 53 - 1),
      1,
    ])
    await pool.query(
      `UPDATE ${schema}.events SET stream_ordering = 9007199254740993 WHERE event_id = '$e1'`,
    )
    await expect(events.pageOwnEvents(query)).rejects.toBeInstanceOf(StoredRowError)
    await expect(events.streamOrderingBounds()).rejects.toBeInstanceOf(StoredRowError)
  })

  it('writes a batch with the same statements whether it has 5 rows or 200', async () => {
    const { counted, storage, home, token } = await readyForBatches(200)

    const statementsOf = async (count: number) => {
      const writes = await resignWrites(home, count)
      counted.statements.length = 0
      const result = await storage.commitBatch({
        updateName: 'u',
        writes,
        progress: { at: count },
        done: false,
        leaseToken: token,
      })
      expect(result.committed).toBe(true)
      return [...counted.statements]
    }

    const few = await statementsOf(5)
    const many = await statementsOf(200)

    expect(many).toEqual(few)
    // event_resign's pair of writes is one statement, its texts joined into one parameter each.
    const writing = few.filter((sql) => /UPDATE \S*event_json/.test(sql))
    expect(writing).toHaveLength(1)
    expect(writing[0]).toMatch(/INSERT INTO \S*event_resign_undo_log/)
    expect(writing[0]).toMatch(/string_to_array/)
    expect((await home.undoLog()).length).toBe(205)
  })

  it('applies the resign pair in one statement, skipping in both what changed since it was read', async () => {
    const { counted, storage, home, token } = await readyForBatches(4)
    const writes = await resignWrites(home, 4)
    await pool.query(`UPDATE ${schema}.event_json SET json = json || '  ' WHERE event_id = '$e3'`)
    const changed = await home.storedJson('$e3')

    counted.statements.length = 0
    const result = await storage.commitBatch({
      updateName: 'u',
      writes,
      progress: (report) => ({ skipped: report.skippedCount }),
      done: false,
      leaseToken: token,
    })

    expect(result.committed).toBe(true)
    const report = result.committed ? result.report : undefined
    expect(report?.writes.map((write) => [write.op, write.applied])).toEqual([
      [APPEND_UNDO_LOG, 3],
      [REPLACE_EVENT_JSON, 3],
    ])
    expect(report?.writes.map((write) => write.skipped)).toEqual([
      [writes[0]?.rows[2]],
      [writes[1]?.rows[2]],
    ])
    expect(await storage.readProgress('u')).toEqual({ skipped: 2 })
    expect(await home.storedJson('$e3')).toBe(changed)
    for (const id of ['$e1', '$e2', '$e4']) {
      const row = writes[1]?.rows.find((r) => (r as { event_id: string }).event_id === id)
      expect(await home.storedJson(id)).toBe((row as { json: string }).json)
    }
    const undo = await home.undoLog()
    expect(undo.map((entry) => entry.event_id)).toEqual(['$e1', '$e2', '$e4'])
    expect(undo.map((entry) => entry.id)).toEqual([1, 2, 3])
    expect(counted.statements.filter((sql) => /UPDATE \S*event_json/.test(sql))).toHaveLength(1)
  })

  it('sends the resign pair as JSON when a text holds the separator, with the same result', async () => {
    const { counted, storage, home, token } = await readyForBatches(3)
    const writes = await resignWrites(home, 3)
    const odd = writes[1]?.rows[1] as { json: string }
    ;(writes[1]?.rows as { json: string }[])[1] = { ...odd, json: `${odd.json}\u001f` }

    counted.statements.length = 0
    const result = await storage.commitBatch({
      updateName: 'u',
      writes,
      progress: {},
      done: false,
      leaseToken: token,
    })

    expect(result.committed && result.report.skippedCount).toBe(0)
    expect(await home.storedJson('$e2')).toBe(`${odd.json}\u001f`)
    expect((await home.undoLog()).map((entry) => entry.event_id)).toEqual(['$e1', '$e2', '$e3'])
    const writing = counted.statements.filter((sql) => /UPDATE \S*event_json/.test(sql))
    expect(writing).toHaveLength(1)
    expect(writing[0]).toMatch(/json_to_recordset/)
  })

  it('applies writes that are not a resign pair one statement each, in order', async () => {
    const { counted, storage, home, token } = await readyForBatches(3)
    const [append, replace] = await resignWrites(home, 3)
    // The undo entries name the events in another order than the replacements.
    const reordered = { ...append, rows: [...(append?.rows ?? [])].reverse() }

    counted.statements.length = 0
    const result = await storage.commitBatch({
      updateName: 'u',
      writes: [reordered, replace] as Awaited<ReturnType<typeof resignWrites>>,
      progress: {},
      done: false,
      leaseToken: token,
    })

    expect(result.committed && result.report.skippedCount).toBe(0)
    expect(counted.statements.filter((sql) => /event_json/.test(sql))).toHaveLength(2)
    expect((await home.undoLog()).map((entry) => entry.event_id)).toEqual(['$e3', '$e2', '$e1'])
    const first = replace?.rows[0] as { json?: string } | undefined
    expect(await home.storedJson('$e1')).toBe(first?.json)
  })

  it('classifies connection failures, serialization failures and deadlocks as transient', async () => {
    const refused = new PostgresStorageAdapter({ connectionString: 'postgres://127.0.0.1:1/none' })
    const error = await refused.listPendingUpdates().catch((caught: unknown) => caught)
    await refused.close()

    expect(refused.isTransientError(error)).toBe(true)
    expect(isPostgresTransientError({ code: '40001' })).toBe(true)
    expect(isPostgresTransientError({ code: '40P01' })).toBe(true)
    expect(isPostgresTransientError({ code: '08006' })).toBe(true)
    expect(isPostgresTransientError({ code: '25P03' })).toBe(true)
    expect(isPostgresTransientError({ code: '57P05' })).toBe(true)
    expect(isPostgresTransientError(new Error('Connection terminated unexpectedly'))).toBe(true)
    expect(isPostgresTransientError({ code: '23505' })).toBe(false)
    expect(isPostgresTransientError(new Error('syntax error'))).toBe(false)
  })

  it('survives the server ending a batch transaction between two statements, and retries it', async () => {
    // The op idles inside the transaction past the adapter's idle-in-transaction timeout, as a
    // process paused by SIGSTOP would; the server then ends the session while no query runs, and
    // `pg` emits 'error' on the checked-out client. Unheard, that error would end the process.
    let idleMs = 1500
    const idler = {
      name: 'idler',
      install: () => ({
        reader: {},
        operations: {
          async idle(_write: unknown, client: PostgresQueryable) {
            await new Promise((resolve) => setTimeout(resolve, idleMs))
            await client.query('SELECT 1')
            return { skipped: [] }
          },
        },
      }),
    }
    const storage = adapter({ capabilities: [idler], idleInTransactionTimeoutMs: 300 })
    await storage.migrate()
    await storage.insertUpdates([{ update_name: 'u', progress: { at: 0 } }])
    const commit = {
      updateName: 'u',
      writes: [{ capability: 'idler', op: 'idle', rows: [{}] }],
      progress: { at: 1 },
      done: false,
      leaseToken: null,
    }

    const error = await storage.commitBatch(commit).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(Error)
    expect(storage.isTransientError(error)).toBe(true)
    expect((await storage.listPendingUpdates())[0]?.progress).toEqual({ at: 0 })

    idleMs = 0
    expect((await storage.commitBatch(commit)).committed).toBe(true)
    expect((await storage.listPendingUpdates())[0]?.progress).toEqual({ at: 1 })
  })

  it('makes and ends a pool of its own for a connection string', async () => {
    const config = serverConfig()
    const url =
      config.connectionString ??
      `postgres://${config.user}@${config.host}:${config.port}/${config.database}`
    const storage = new PostgresStorageAdapter({ connectionString: url, schema })
    await storage.migrate()

    expect(await storage.listPendingUpdates()).toEqual([])
    await storage.close()
  })
})

/** Rewrites of the first `count` events, each with its undo log entry. */
/** An adapter over a counting pool, `count` events stored, update `u` queued, its lease held. */
async function readyForBatches(count: number) {
  const counted = countingPool(pool)
  const storage = adapter({ pool: counted.pool })
  await storage.migrate()
  const home = new PostgresHomeserver(storage)
  await home.addEvents(Array.from({ length: count }, (_, index) => event(index + 1)))
  await storage.insertUpdates([{ update_name: 'u' }])
  const token = await storage.lease.acquire('me', 10_000)
  return { counted, storage, home, token }
}

async function resignWrites(home: PostgresHomeserver, count: number) {
  const rows = await Promise.all(
    Array.from({ length: count }, async (_, index) => {
      const eventId = `$e${index + 1}`
      return { eventId, stored: (await home.storedJson(eventId)) as string }
    }),
  )
  return [
    {
      capability: UNDO_LOG_CAPABILITY,
      op: APPEND_UNDO_LOG,
      rows: rows.map(({ eventId, stored }) => ({
        event_id: eventId,
        expected_json: stored,
        server_name: 'example.org',
        removed_signatures: {},
        added_key_id: 'ed25519:new',
      })),
    },
    {
      capability: EVENTS_CAPABILITY,
      op: REPLACE_EVENT_JSON,
      rows: rows.map(({ eventId, stored }) => ({
        event_id: eventId,
        expected_json: stored,
        json: `${stored} `,
      })),
    },
  ]
}
