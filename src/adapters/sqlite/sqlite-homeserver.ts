import type {
  DirectorySnapshot,
  MemoryEventSeed,
  MemoryProfileSeed,
  RoomStatsRow,
  UndoLogEntry,
} from 'matrix-background-updates'
import type { SqliteStorageAdapter } from './sqlite-adapter.js'
import type { SqliteUserDirectoryInstance } from './sqlite-user-directory.js'

type Row = Record<string, unknown>

/**
 * Seeds and inspects the reference schema of a {@link SqliteStorageAdapter}, as a host's own writes
 * would: rooms, events and their JSON, current state with memberships, users and profiles. The same
 * methods as the memory adapter's `MemoryHomeserver`, so one data set or test fits both. Each call
 * is one transaction. Call `migrate()` first.
 */
export class SqliteHomeserver {
  readonly #adapter: SqliteStorageAdapter

  /** Wraps an adapter whose schema is migrated. */
  constructor(adapter: SqliteStorageAdapter) {
    this.#adapter = adapter
  }

  /**
   * Stores events (with their room's version in `rooms`), replacing any of the same ID.
   *
   * @throws {TypeError} An event has no ID, no sender or no safe integer stream ordering.
   */
  async addEvents(seeds: readonly MemoryEventSeed[]): Promise<void> {
    await this.#transaction(() => {
      for (const seed of seeds) this.#addEvent(seed)
    })
  }

  /** The stored JSON text of an event, or undefined. */
  async storedJson(eventId: string): Promise<string | undefined> {
    const rows = await this.#all(`SELECT json FROM ${this.#t('event_json')} WHERE event_id = ?`, [
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
    await this.#transaction(() => {
      const sql = `UPDATE ${this.#t('event_json')} SET json = ? WHERE event_id = ?`
      if (this.#run(sql, [json, eventId]) === 0)
        throw new RangeError(`No event ${eventId} is stored`)
    })
  }

  /**
   * Sets a room's current state (and its memberships); `null` stands for an event whose JSON does
   * not parse. Events without an `event_id` get one made up from the room and their position; the
   * stored text of an event already stored is kept.
   */
  async setRoomState(roomId: string, stateEvents: readonly unknown[]): Promise<void> {
    await this.#transaction(() => {
      this.#run(`DELETE FROM ${this.#t('current_state_events')} WHERE room_id = ?`, [roomId])
      this.#run(`DELETE FROM ${this.#t('room_memberships')} WHERE room_id = ?`, [roomId])
      for (const [index, event] of stateEvents.entries()) this.#addStateEvent(roomId, event, index)
    })
  }

  /** Registers users on the server, with their global profiles when given. */
  async addUsers(users: Readonly<Record<string, MemoryProfileSeed | null>>): Promise<void> {
    await this.#transaction(() => {
      for (const [userId, profile] of Object.entries(users)) {
        this.#run(`INSERT INTO ${this.#t('users')} (name) VALUES (?) ON CONFLICT DO NOTHING`, [
          userId,
        ])
        if (profile !== null) this.#addProfile(userId, profile)
      }
    })
  }

  /** Sets the host's current state delta stream position (a row of `current_state_delta_stream`). */
  async setStreamPosition(position: number): Promise<void> {
    await this.#transaction(() => {
      this.#run(`DELETE FROM ${this.#t('current_state_delta_stream')}`, [])
      this.#run(
        `INSERT INTO ${this.#t('current_state_delta_stream')} (stream_id, room_id, type, state_key) VALUES (?, '', '', '')`,
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
    return this.#adapter.instance<SqliteUserDirectoryInstance>('user_directory').snapshot()
  }

  #addEvent(seed: MemoryEventSeed): void {
    const event = (seed.event ?? {}) as Row
    const eventId = seed.event_id ?? event.event_id
    const sender = seed.sender ?? event.sender
    if (typeof eventId !== 'string') throw new TypeError('A seeded event needs an event_id')
    if (typeof sender !== 'string') throw new TypeError(`Seeded event ${eventId} needs a sender`)
    if (!Number.isSafeInteger(seed.stream_ordering)) {
      throw new TypeError(`Seeded event ${eventId} needs a safe integer stream_ordering`)
    }

    const roomId = typeof event.room_id === 'string' ? event.room_id : `!unknown:${eventId}`
    const stateKey = typeof event.state_key === 'string' ? event.state_key : null
    const type = typeof event.type === 'string' ? event.type : ''
    if (seed.room_version !== null) {
      this.#run(
        `INSERT INTO ${this.#t('rooms')} (room_id, room_version) VALUES (?, ?) ON CONFLICT DO NOTHING`,
        [roomId, seed.room_version],
      )
    }
    this.#run(
      `INSERT OR REPLACE INTO ${this.#t('events')} (stream_ordering, event_id, room_id, type, state_key, sender, origin_server_ts, received_ts, rejection_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        seed.stream_ordering,
        eventId,
        roomId,
        type,
        stateKey,
        sender,
        typeof event.origin_server_ts === 'number' ? event.origin_server_ts : null,
        seed.received_ts ?? 0,
        seed.rejected ? 'seeded as rejected' : null,
      ],
    )
    this.#putJson(eventId, roomId, seed.json ?? JSON.stringify(seed.event))
  }

  #addStateEvent(roomId: string, event: unknown, index: number): void {
    const fields = (event ?? {}) as Row
    const eventId =
      typeof fields.event_id === 'string' ? fields.event_id : `$state-${index}-${roomId}`
    const type = typeof fields.type === 'string' ? fields.type : `invalid.${index}`
    const stateKey = typeof fields.state_key === 'string' ? fields.state_key : `invalid.${index}`
    const content = (fields.content ?? {}) as Row
    const membership =
      type === 'm.room.member' && typeof content.membership === 'string' ? content.membership : null
    this.#run(
      `INSERT INTO ${this.#t('current_state_events')} (event_id, room_id, type, state_key, membership) VALUES (?, ?, ?, ?, ?)`,
      [eventId, roomId, type, stateKey, membership],
    )
    const json = event === null ? '{"malformed":' : JSON.stringify(event)
    this.#run(
      `INSERT INTO ${this.#t('event_json')} (event_id, room_id, json) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
      [eventId, roomId, json],
    )
    if (membership !== null) this.#addMembership(eventId, roomId, fields, stateKey, membership)
  }

  #addMembership(eventId: string, roomId: string, event: Row, userId: string, membership: string) {
    const content = event.content as Row
    const text = (value: unknown) => (typeof value === 'string' ? value : null)
    this.#run(
      `INSERT OR REPLACE INTO ${this.#t('room_memberships')} (event_id, user_id, sender, room_id, membership, display_name, avatar_url) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      [
        eventId,
        userId,
        text(event.sender) ?? userId,
        roomId,
        membership,
        text(content.displayname),
        text(content.avatar_url),
      ],
    )
  }

  #addProfile(userId: string, profile: MemoryProfileSeed): void {
    const localpart = userId.slice(1, Math.max(userId.indexOf(':'), 1))
    this.#run(
      `INSERT OR REPLACE INTO ${this.#t('profiles')} (full_user_id, user_id, displayname, avatar_url) VALUES (?, ?, ?, ?)`,
      [userId, localpart, profile.displayname ?? null, profile.avatar_url ?? null],
    )
  }

  #putJson(eventId: string, roomId: string, json: string): void {
    this.#run(
      `INSERT OR REPLACE INTO ${this.#t('event_json')} (event_id, room_id, json) VALUES (?, ?, ?)`,
      [eventId, roomId, json],
    )
  }

  #t(name: string): string {
    return this.#adapter.tablePrefix + name
  }

  #run(sql: string, parameters: unknown[]): number {
    return this.#database.prepare(sql).run(...parameters).changes
  }

  async #all(sql: string, parameters: unknown[]): Promise<Row[]> {
    const database = await this.#adapter.database()
    return database.prepare(sql).all(...parameters) as Row[]
  }

  #database = null as unknown as Awaited<ReturnType<SqliteStorageAdapter['database']>>

  async #transaction(work: () => void): Promise<void> {
    this.#database = await this.#adapter.database()
    this.#database.transaction(work).immediate()
  }
}
