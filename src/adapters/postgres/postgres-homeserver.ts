import type {
  DirectorySnapshot,
  MemoryEventSeed,
  MemoryProfileSeed,
  RoomStatsRow,
  UndoLogEntry,
} from 'matrix-background-updates'
import type { PostgresStorageAdapter } from './postgres-adapter.js'
import { inTransaction, type PostgresQueryable, queryRows } from './postgres-driver.js'
import { column, lastByKey } from './postgres-rows.js'
import type { PostgresUserDirectoryInstance } from './postgres-user-directory.js'

type Row = Record<string, unknown>

/** One event as it is written into `events` and `event_json`. */
interface EventRecord {
  readonly stream_ordering: number
  readonly event_id: string
  readonly room_id: string
  readonly type: string
  readonly state_key: string | null
  readonly sender: string
  readonly origin_server_ts: number | null
  readonly received_ts: number
  readonly rejection_reason: string | null
  readonly room_version: string | null
  readonly json: string
}

/**
 * Seeds and inspects the reference schema of a {@link PostgresStorageAdapter}, as a host's own
 * writes would: rooms, events and their JSON, current state with memberships, users and profiles.
 * The same methods as the memory adapter's `MemoryHomeserver`, so one data set or test fits both.
 * Each call is one transaction; `addEvents` writes a whole chunk with a few set-based statements,
 * so generating a million events takes minutes, not hours. Call `migrate()` first.
 */
export class PostgresHomeserver {
  readonly #adapter: PostgresStorageAdapter

  /** Wraps an adapter whose schema is migrated. */
  constructor(adapter: PostgresStorageAdapter) {
    this.#adapter = adapter
  }

  /**
   * Stores events (with their room's version in `rooms`), replacing any of the same ID or the
   * same stream ordering.
   *
   * @throws {TypeError} An event has no ID, no sender or no safe integer stream ordering.
   */
  async addEvents(seeds: readonly MemoryEventSeed[]): Promise<void> {
    const byId = lastByKey(seeds.map(toRecord), (record) => record.event_id)
    const records = lastByKey(byId, (record) => String(record.stream_ordering))
    if (records.length === 0) return

    await this.#transaction(async (client) => {
      await this.#putRooms(client, records)
      await client.query(
        `DELETE FROM ${this.#t('events')}
         WHERE event_id = ANY($1::text[]) OR stream_ordering = ANY($2::bigint[])`,
        [column(records, 'event_id'), column(records, 'stream_ordering')],
      )
      await this.#insertEvents(client, records)
      await this.#putJson(client, records)
    })
  }

  /** The stored JSON text of an event, or undefined. */
  async storedJson(eventId: string): Promise<string | undefined> {
    const rows = await this.#all(`SELECT json FROM ${this.#t('event_json')} WHERE event_id = $1`, [
      eventId,
    ])
    return rows[0]?.json as string | undefined
  }

  /**
   * Replaces the stored text of an event, as the host does when it redacts one.
   *
   * @throws {RangeError} No such event is stored.
   */
  async writeStoredJson(eventId: string, json: string): Promise<void> {
    const sql = `UPDATE ${this.#t('event_json')} SET json = $1 WHERE event_id = $2`
    const result = await (await this.#adapter.pool()).query(sql, [json, eventId])
    if (result.rowCount === 0) throw new RangeError(`No event ${eventId} is stored`)
  }

  /**
   * Sets a room's current state (and its memberships); `null` stands for an event whose JSON does
   * not parse. Events without an `event_id` get one made up from the room and their position; the
   * stored text of an event already stored is kept.
   */
  async setRoomState(roomId: string, stateEvents: readonly unknown[]): Promise<void> {
    await this.#transaction(async (client) => {
      await client.query(`DELETE FROM ${this.#t('current_state_events')} WHERE room_id = $1`, [
        roomId,
      ])
      await client.query(`DELETE FROM ${this.#t('room_memberships')} WHERE room_id = $1`, [roomId])
      for (const [index, event] of stateEvents.entries()) {
        await this.#addStateEvent(client, roomId, event, index)
      }
    })
  }

  /** Registers users on the server, with their global profiles when given. */
  async addUsers(users: Readonly<Record<string, MemoryProfileSeed | null>>): Promise<void> {
    await this.#transaction(async (client) => {
      for (const [userId, profile] of Object.entries(users)) {
        await client.query(
          `INSERT INTO ${this.#t('users')} (name) VALUES ($1) ON CONFLICT DO NOTHING`,
          [userId],
        )
        if (profile !== null) await this.#addProfile(client, userId, profile)
      }
    })
  }

  /** Sets the host's current state delta stream position (a row of `current_state_delta_stream`). */
  async setStreamPosition(position: number): Promise<void> {
    await this.#transaction(async (client) => {
      await client.query(`DELETE FROM ${this.#t('current_state_delta_stream')}`)
      await client.query(
        `INSERT INTO ${this.#t('current_state_delta_stream')} (stream_id, room_id, type, state_key)
         VALUES ($1, '', '', '')`,
        [position],
      )
    })
  }

  /** The stats rows of every room, by room ID. */
  async roomStats(): Promise<Record<string, RoomStatsRow>> {
    const reader = this.#adapter.reader('room_stats')
    const rows = await this.#all(`SELECT room_id FROM ${this.#t('room_stats_current')}`, [])
    const entries = await Promise.all(
      rows.map(async (row) => [row.room_id, await reader.read(row.room_id as string)] as const),
    )
    return Object.fromEntries(entries)
  }

  /** The undo log, oldest entry first. */
  async undoLog(): Promise<UndoLogEntry[]> {
    return this.#adapter.reader('undo_log').page(0, Number.MAX_SAFE_INTEGER)
  }

  /** The live user directory. */
  async directory(): Promise<DirectorySnapshot> {
    return this.#adapter.instance<PostgresUserDirectoryInstance>('user_directory').snapshot()
  }

  async #putRooms(client: PostgresQueryable, records: readonly EventRecord[]): Promise<void> {
    const known = records.filter((record) => record.room_version !== null)
    const rooms = lastByKey(known, (record) => record.room_id)
    if (rooms.length === 0) return

    await client.query(
      `INSERT INTO ${this.#t('rooms')} (room_id, room_version)
       SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING`,
      [column(rooms, 'room_id'), column(rooms, 'room_version')],
    )
  }

  async #insertEvents(client: PostgresQueryable, records: readonly EventRecord[]): Promise<void> {
    const columns = [
      'stream_ordering',
      'event_id',
      'room_id',
      'type',
      'state_key',
      'sender',
      'origin_server_ts',
      'received_ts',
      'rejection_reason',
    ] as const
    const types = ['bigint', 'text', 'text', 'text', 'text', 'text', 'bigint', 'bigint', 'text']
    const unnest = types.map((type, index) => `$${index + 1}::${type}[]`).join(', ')
    await client.query(
      `INSERT INTO ${this.#t('events')} (${columns.join(', ')}) SELECT * FROM unnest(${unnest})`,
      columns.map((name) => column(records, name)),
    )
  }

  async #putJson(client: PostgresQueryable, records: readonly EventRecord[]): Promise<void> {
    await client.query(
      `INSERT INTO ${this.#t('event_json')} (event_id, room_id, json)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
       ON CONFLICT (event_id) DO UPDATE SET room_id = excluded.room_id, json = excluded.json`,
      [column(records, 'event_id'), column(records, 'room_id'), column(records, 'json')],
    )
  }

  async #addStateEvent(
    client: PostgresQueryable,
    roomId: string,
    event: unknown,
    index: number,
  ): Promise<void> {
    const fields = (event ?? {}) as Row
    const eventId =
      typeof fields.event_id === 'string' ? fields.event_id : `$state-${index}-${roomId}`
    const type = typeof fields.type === 'string' ? fields.type : `invalid.${index}`
    const stateKey = typeof fields.state_key === 'string' ? fields.state_key : `invalid.${index}`
    const content = (fields.content ?? {}) as Row
    const membership =
      type === 'm.room.member' && typeof content.membership === 'string' ? content.membership : null
    await client.query(
      `INSERT INTO ${this.#t('current_state_events')} (event_id, room_id, type, state_key, membership)
       VALUES ($1, $2, $3, $4, $5)`,
      [eventId, roomId, type, stateKey, membership],
    )
    const json = event === null ? '{"malformed":' : JSON.stringify(event)
    await client.query(
      `INSERT INTO ${this.#t('event_json')} (event_id, room_id, json) VALUES ($1, $2, $3)
       ON CONFLICT DO NOTHING`,
      [eventId, roomId, json],
    )
    if (membership !== null) {
      await this.#addMembership(client, { eventId, roomId, event: fields, userId: stateKey })
    }
  }

  async #addMembership(
    client: PostgresQueryable,
    member: { eventId: string; roomId: string; event: Row; userId: string },
  ): Promise<void> {
    const content = member.event.content as Row
    const text = (value: unknown) => (typeof value === 'string' ? value : null)
    await client.query(
      `INSERT INTO ${this.#t('room_memberships')}
         (event_id, user_id, sender, room_id, membership, display_name, avatar_url)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (event_id) DO UPDATE SET user_id = excluded.user_id, sender = excluded.sender,
         room_id = excluded.room_id, membership = excluded.membership,
         display_name = excluded.display_name, avatar_url = excluded.avatar_url`,
      [
        member.eventId,
        member.userId,
        text(member.event.sender) ?? member.userId,
        member.roomId,
        content.membership,
        text(content.displayname),
        text(content.avatar_url),
      ],
    )
  }

  async #addProfile(
    client: PostgresQueryable,
    userId: string,
    profile: MemoryProfileSeed,
  ): Promise<void> {
    const localpart = userId.slice(1, Math.max(userId.indexOf(':'), 1))
    await client.query(
      `INSERT INTO ${this.#t('profiles')} (full_user_id, user_id, displayname, avatar_url)
       VALUES ($1, $2, $3, $4)
       ON CONFLICT (full_user_id) DO UPDATE SET user_id = excluded.user_id,
         displayname = excluded.displayname, avatar_url = excluded.avatar_url`,
      [userId, localpart, profile.displayname ?? null, profile.avatar_url ?? null],
    )
  }

  #t(name: string): string {
    return this.#adapter.tableName(name)
  }

  async #all(sql: string, parameters: unknown[]): Promise<Row[]> {
    return queryRows<Row>(await this.#adapter.pool(), sql, parameters)
  }

  async #transaction(work: (client: PostgresQueryable) => Promise<void>): Promise<void> {
    await inTransaction(await this.#adapter.pool(), work)
  }
}

/** A seed as the rows it becomes, checked as the SQLite handle checks it. */
function toRecord(seed: MemoryEventSeed): EventRecord {
  const event = (seed.event ?? {}) as Row
  const eventId = seed.event_id ?? event.event_id
  const sender = seed.sender ?? event.sender
  if (typeof eventId !== 'string') throw new TypeError('A seeded event needs an event_id')
  if (typeof sender !== 'string') throw new TypeError(`Seeded event ${eventId} needs a sender`)
  if (!Number.isSafeInteger(seed.stream_ordering)) {
    throw new TypeError(`Seeded event ${eventId} needs a safe integer stream_ordering`)
  }

  return {
    stream_ordering: seed.stream_ordering,
    event_id: eventId,
    room_id: typeof event.room_id === 'string' ? event.room_id : `!unknown:${eventId}`,
    type: typeof event.type === 'string' ? event.type : '',
    state_key: typeof event.state_key === 'string' ? event.state_key : null,
    sender,
    origin_server_ts: typeof event.origin_server_ts === 'number' ? event.origin_server_ts : null,
    received_ts: seed.received_ts ?? 0,
    rejection_reason: seed.rejected ? 'seeded as rejected' : null,
    room_version: seed.room_version,
    json: seed.json ?? JSON.stringify(seed.event),
  }
}
