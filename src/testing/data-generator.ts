import {
  computeContentHash,
  computeEventId,
  decodeSigningKeyBase64,
  encodeBase64,
  type MemoryEventSeed,
  type MemoryProfileSeed,
  redactEvent,
  type SigningKey,
  signEvent,
} from 'matrix-background-updates'

type MaybePromise<T> = T | Promise<T>

/** Where a data set is written: the seeding methods of `MemoryHomeserver` and `SqliteHomeserver`. */
export interface DataSetTarget {
  addEvents(seeds: readonly MemoryEventSeed[]): MaybePromise<void>
  setRoomState(roomId: string, stateEvents: readonly unknown[]): MaybePromise<void>
  addUsers(users: Readonly<Record<string, MemoryProfileSeed | null>>): MaybePromise<void>
  setStreamPosition(position: number): MaybePromise<void>
}

/** What to generate. Every field has a default; the same options always give the same data. */
export interface DataSetOptions {
  /** The PRNG seed. Default 1. */
  readonly seed?: number
  /** Our server name. Default `local.example`. */
  readonly serverName?: string
  /** Rooms, spread over room versions 1 to 12. Default 24. */
  readonly rooms?: number
  /** Local users. Default 20. */
  readonly localUsers?: number
  /** Remote servers, some with ports. Default 4. */
  readonly remoteServers?: number
  /** Users per remote server. Default 3. */
  readonly remoteUsersPerServer?: number
  /** Messages over all rooms. Default 200. */
  readonly messages?: number
  /** The share of messages sent by local users, 0 to 1. Default 0.6. */
  readonly localShare?: number
  /** The share of messages stored redacted, 0 to 1. Default 0.05. */
  readonly redactedShare?: number
  /** Adds a few malformed rows (JSON that does not parse, events that are not events). Default false. */
  readonly malformedRows?: boolean
  /** The time of the first event, ms since the epoch. Default 2024-01-01. */
  readonly startTs?: number
  /** The old key that signs local events. Default: one derived from the seed, version `old`. */
  readonly oldKey?: SigningKey
  /** Events per `addEvents` call. Default 2000. */
  readonly chunkSize?: number
}

/** What was generated. */
export interface DataSetSummary {
  readonly serverName: string
  /** The old key that signed every local event. */
  readonly oldKey: SigningKey
  readonly events: number
  readonly localEvents: number
  readonly redactedEvents: number
  readonly malformedEvents: number
  readonly rooms: readonly string[]
  readonly localUsers: readonly string[]
  /** The highest stream ordering, stored as the current state delta stream position. */
  readonly lastStreamOrdering: number
}

/** A small, fast, seeded PRNG (mulberry32): the same seed gives the same sequence. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

interface Room {
  readonly roomId: string
  readonly version: string
  readonly state: Map<string, Record<string, unknown>>
  readonly members: string[]
  lastEvent: string | null
  depth: number
}

/**
 * Builds a realistic data set reproducibly from a seed into any target: rooms over room versions 1
 * to 12, local and remote users on servers with and without ports, state, memberships, profiles,
 * messages, some stored in redacted form, and on request a few malformed rows. Local events are
 * signed with an old key (version `old`, derived from the seed), so `event_resign` has work to do.
 *
 * @example
 * ```ts
 * const { storage, homeserver } = createHomeserverStorage()
 * const summary = await generateDataSet(homeserver, { seed: 7, messages: 1000 })
 * ```
 */
export async function generateDataSet(
  target: DataSetTarget,
  options: DataSetOptions = {},
): Promise<DataSetSummary> {
  const generator = new DataSetGenerator(target, options)
  return generator.run()
}

class DataSetGenerator {
  readonly #target: DataSetTarget
  readonly #random: () => number
  readonly #serverName: string
  readonly #options: DataSetOptions
  readonly #oldKey: SigningKey
  readonly #chunkSize: number
  readonly #localUsers: string[]
  readonly #remoteUsers: string[]
  #buffer: MemoryEventSeed[] = []
  #ordering = 0
  #counts = { events: 0, localEvents: 0, redactedEvents: 0, malformedEvents: 0 }

  constructor(target: DataSetTarget, options: DataSetOptions) {
    this.#target = target
    this.#options = options
    this.#random = mulberry32(options.seed ?? 1)
    this.#serverName = options.serverName ?? 'local.example'
    this.#chunkSize = options.chunkSize ?? 2000
    const seedBytes = Uint8Array.from({ length: 32 }, () => Math.floor(this.#random() * 256))
    this.#oldKey =
      options.oldKey ?? decodeSigningKeyBase64('ed25519', 'old', encodeBase64(seedBytes))
    this.#localUsers = Array.from(
      { length: options.localUsers ?? 20 },
      (_, index) => `@user${index}:${this.#serverName}`,
    )
    this.#remoteUsers = this.#makeRemoteUsers()
  }

  async run(): Promise<DataSetSummary> {
    await this.#addLocalUsers()
    const rooms: Room[] = []
    for (let index = 0; index < (this.#options.rooms ?? 24); index++) {
      rooms.push(await this.#createRoom(index))
    }
    await this.#sendMessages(rooms)
    if (this.#options.malformedRows) await this.#addMalformedRows(rooms)
    await this.#flush()
    for (const room of rooms) await this.#target.setRoomState(room.roomId, [...room.state.values()])
    await this.#target.setStreamPosition(this.#ordering)

    return {
      serverName: this.#serverName,
      oldKey: this.#oldKey,
      ...this.#counts,
      rooms: rooms.map((room) => room.roomId),
      localUsers: this.#localUsers,
      lastStreamOrdering: this.#ordering,
    }
  }

  #makeRemoteUsers(): string[] {
    const servers = Array.from({ length: this.#options.remoteServers ?? 4 }, (_, index) =>
      index % 2 === 0 ? `remote${index}.example` : `remote${index}.example:${8448 + index}`,
    )
    const perServer = this.#options.remoteUsersPerServer ?? 3
    return servers.flatMap((server) =>
      Array.from({ length: perServer }, (_, index) => `@guest${index}:${server}`),
    )
  }

  async #addLocalUsers(): Promise<void> {
    const users: Record<string, MemoryProfileSeed | null> = {}
    this.#localUsers.forEach((userId, index) => {
      const roll = this.#random()
      users[userId] =
        roll < 0.1
          ? null
          : {
              displayname: roll < 0.2 ? null : `User ${index}`,
              avatar_url: roll < 0.6 ? `mxc://${this.#serverName}/avatar${index}` : null,
            }
    })
    await this.#target.addUsers(users)
  }

  #pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.#random() * items.length)] as T
  }

  async #createRoom(index: number): Promise<Room> {
    const version = String((index % 12) + 1)
    const creator =
      this.#random() < 0.8 ? this.#pick(this.#localUsers) : this.#pick(this.#remoteUsers)
    const provisional = `!room${index}:${creator.split(':').slice(1).join(':')}`
    const room: Room = {
      roomId: provisional,
      version,
      state: new Map(),
      members: [],
      lastEvent: null,
      depth: 0,
    }
    const createContent = version === '12' ? {} : { creator, room_version: version }
    const createId = await this.#send(room, creator, 'm.room.create', '', createContent)
    if (version === '12') Object.assign(room, { roomId: `!${createId.slice(1)}` })

    await this.#join(room, creator)
    const isPublic = this.#random() < 0.4
    await this.#send(room, creator, 'm.room.join_rules', '', {
      join_rule: isPublic ? 'public' : this.#pick(['invite', 'knock', 'restricted']),
    })
    await this.#send(room, creator, 'm.room.history_visibility', '', {
      history_visibility: this.#pick(['shared', 'joined', 'invited', 'world_readable']),
    })
    await this.#send(room, creator, 'm.room.name', '', { name: `Room ${index}` })
    if (this.#random() < 0.5)
      await this.#send(room, creator, 'm.room.topic', '', { topic: `Topic of room ${index}` })
    if (this.#random() < 0.3)
      await this.#send(room, creator, 'm.room.encryption', '', {
        algorithm: 'm.megolm.v1.aes-sha2',
      })
    if (this.#random() < 0.3)
      await this.#send(room, creator, 'm.room.guest_access', '', { guest_access: 'can_join' })
    await this.#addMembers(room)
    return room
  }

  async #addMembers(room: Room): Promise<void> {
    const count = 2 + Math.floor(this.#random() * 8)
    for (let index = 0; index < count; index++) {
      const user =
        this.#random() < 0.6 ? this.#pick(this.#localUsers) : this.#pick(this.#remoteUsers)
      if (room.members.includes(user)) continue

      const roll = this.#random()
      if (roll < 0.75) await this.#join(room, user)
      else {
        const membership = roll < 0.85 ? 'invite' : roll < 0.95 ? 'leave' : 'ban'
        await this.#send(room, user, 'm.room.member', user, { membership })
      }
    }
  }

  async #join(room: Room, user: string): Promise<void> {
    const content: Record<string, unknown> = { membership: 'join' }
    if (this.#random() < 0.7)
      content.displayname = `${user.slice(1, user.indexOf(':'))} in ${room.roomId.slice(0, 8)}`
    await this.#send(room, user, 'm.room.member', user, content)
    room.members.push(user)
  }

  async #sendMessages(rooms: readonly Room[]): Promise<void> {
    const localShare = this.#options.localShare ?? 0.6
    const redactedShare = this.#options.redactedShare ?? 0.05
    for (let index = 0; index < (this.#options.messages ?? 200); index++) {
      const room = this.#pick(rooms)
      const locals = room.members.filter((user) => user.endsWith(`:${this.#serverName}`))
      const remotes = room.members.filter((user) => !locals.includes(user))
      const pool = this.#random() < localShare ? locals : remotes
      const sender = this.#pick(pool.length > 0 ? pool : room.members)
      const body = {
        msgtype: 'm.text',
        body: `Message ${index} with some words: ${this.#random().toString(36).slice(2)}`,
      }
      await this.#send(room, sender, 'm.room.message', null, body, this.#random() < redactedShare)
    }
  }

  async #send(
    room: Room,
    sender: string,
    type: string,
    stateKey: string | null,
    content: Record<string, unknown>,
    redact = false,
  ): Promise<string> {
    const ordering = ++this.#ordering
    const ts = (this.#options.startTs ?? 1_704_067_200_000) + ordering * 1000
    const event: Record<string, unknown> = {
      type,
      sender,
      content,
      origin_server_ts: ts,
      depth: ++room.depth,
      prev_events: room.lastEvent ? [room.lastEvent] : [],
      auth_events: [],
      unsigned: { age_ts: ts },
    }
    if (!(room.version === '12' && type === 'm.room.create')) event.room_id = room.roomId
    if (stateKey !== null) event.state_key = stateKey
    const local = sender.endsWith(`:${this.#serverName}`)
    if (room.version === '1' || room.version === '2') {
      event.event_id = `$e${ordering}:${this.#serverName}`
      event.prev_events = room.lastEvent ? [[room.lastEvent, {}]] : []
    }

    const signed = local
      ? await this.#signLocal(event, room.version)
      : this.#signRemote(event, sender)
    const eventId = (signed.event_id as string | undefined) ?? computeEventId(signed, room.version)
    const stored = redact ? redactEvent(signed, room.version) : signed
    if (stateKey !== null)
      room.state.set(`${type}\u0000${stateKey}`, { ...stored, event_id: eventId })
    room.lastEvent = eventId
    await this.#push(
      {
        event: stored,
        event_id: eventId,
        stream_ordering: ordering,
        room_version: room.version,
        received_ts: ts + 50,
        sender,
      },
      local,
      redact,
    )
    return eventId
  }

  async #signLocal(
    event: Record<string, unknown>,
    version: string,
  ): Promise<Record<string, unknown>> {
    const { unsigned, ...rest } = event
    const signed = await signEvent(rest, version, this.#serverName, this.#oldKey)
    return { ...signed, unsigned }
  }

  #signRemote(event: Record<string, unknown>, sender: string): Record<string, unknown> {
    const server = sender.slice(sender.indexOf(':') + 1)
    const { unsigned: _unsigned, ...rest } = event
    return {
      ...event,
      hashes: { sha256: computeContentHash(rest) },
      signatures: { [server]: { 'ed25519:r1': encodeBase64(new Uint8Array(64).fill(7)) } },
    }
  }

  async #push(seed: MemoryEventSeed, local: boolean, redacted: boolean): Promise<void> {
    this.#counts.events++
    if (local) this.#counts.localEvents++
    if (redacted) this.#counts.redactedEvents++
    this.#buffer.push(seed)
    if (this.#buffer.length >= this.#chunkSize) await this.#flush()
  }

  async #flush(): Promise<void> {
    if (this.#buffer.length === 0) return

    const chunk = this.#buffer
    this.#buffer = []
    await this.#target.addEvents(chunk)
  }

  async #addMalformedRows(rooms: readonly Room[]): Promise<void> {
    const room = rooms[0] as Room
    const sender = this.#localUsers[0] as string
    const bad = [
      '{"type": "m.room.message", "content": ',
      '"just a string"',
      '{"type": 5, "content": {}}',
    ]
    for (const json of bad) {
      const ordering = ++this.#ordering
      this.#counts.events++
      this.#counts.localEvents++
      this.#counts.malformedEvents++
      this.#buffer.push({
        json,
        event_id: `$malformed${ordering}`,
        stream_ordering: ordering,
        room_version: room.version,
        received_ts: ordering,
        sender,
      })
    }
    room.state.set('malformed\u0000', null as unknown as Record<string, unknown>)
  }
}
