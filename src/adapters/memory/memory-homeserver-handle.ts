import type { RoomStatsRow } from '../capabilities/room-stats.js'
import type { UndoLogEntry } from '../capabilities/undo-log.js'
import type { DirectorySnapshot } from '../capabilities/user-directory.js'
import type { MemoryEventRecord, MemoryHomeserverData } from './memory-homeserver.js'
import { snapshotDirectory } from './memory-user-directory.js'

/** An event to store in a memory homeserver. */
export interface MemoryEventSeed {
  /** The event; stored as `JSON.stringify(event)` unless `json` is given. */
  readonly event?: unknown

  /** The exact stored text, for events whose JSON does not parse or must keep its bytes. */
  readonly json?: string

  /** The ID to file it under. Default: the event's `event_id`. */
  readonly event_id?: string

  /** Its stream ordering, a safe integer. */
  readonly stream_ordering: number

  /** Its room's version, or null when unknown. */
  readonly room_version: string | null

  /** Whether it was rejected. Default false. */
  readonly rejected?: boolean

  /** When it was received, in ms since the epoch. Default 0. */
  readonly received_ts?: number

  /** The `sender` column. Default: the event's `sender`. */
  readonly sender?: string
}

/** A local user's global profile to store. */
export interface MemoryProfileSeed {
  readonly displayname?: string | null
  readonly avatar_url?: string | null
}

/**
 * Seeds and inspects the homeserver data of a {@link MemoryStorageAdapter} with the built-in
 * capabilities: what a host's database would hold. Changes made here are final (outside any batch),
 * as a host's own writes are.
 */
export class MemoryHomeserver {
  readonly #data: MemoryHomeserverData

  /** Wraps the data shared by the built-in capabilities of one adapter. */
  constructor(data: MemoryHomeserverData) {
    this.#data = data
  }

  /**
   * Stores events, replacing any of the same ID.
   *
   * @throws {TypeError} An event has no ID, no sender or no safe integer stream ordering.
   */
  addEvents(seeds: readonly MemoryEventSeed[]): void {
    for (const seed of seeds) {
      const record = toEventRecord(seed)
      this.#data.events.set(record.event_id, record)
    }
  }

  /** The stored JSON text of an event, or undefined. */
  storedJson(eventId: string): string | undefined {
    return this.#data.events.get(eventId)?.json
  }

  /** Replaces the stored text of an event, as the host does when it redacts one. */
  writeStoredJson(eventId: string, json: string): void {
    const stored = this.#data.events.get(eventId)
    if (!stored) throw new RangeError(`No event ${eventId} is stored`)

    this.#data.events.set(eventId, { ...stored, json })
  }

  /** Sets a room's current state events; `null` stands for an event whose JSON does not parse. */
  setRoomState(roomId: string, stateEvents: readonly unknown[]): void {
    this.#data.roomState.set(roomId, structuredClone(stateEvents))
  }

  /** Registers users on the server, with their global profiles when given. */
  addUsers(users: Readonly<Record<string, MemoryProfileSeed | null>>): void {
    for (const [userId, profile] of Object.entries(users)) {
      this.#data.users.set(userId, true)
      if (profile === null) continue

      this.#data.profiles.set(userId, {
        user_id: userId,
        displayname: profile.displayname ?? null,
        avatar_url: profile.avatar_url ?? null,
      })
    }
  }

  /** Sets the host's current state delta stream position. */
  setStreamPosition(position: number): void {
    this.#data.streamPosition.set('position', position)
  }

  /** The stats rows of every room, by room ID. */
  roomStats(): Record<string, RoomStatsRow> {
    return Object.fromEntries(structuredClone([...this.#data.stats.entries()]))
  }

  /** The undo log, oldest entry first. */
  undoLog(): UndoLogEntry[] {
    return structuredClone([...this.#data.undoLog.values()].sort((a, b) => a.id - b.id))
  }

  /** The live user directory, as its readers see it. */
  directory(): DirectorySnapshot {
    return snapshotDirectory(this.#data.liveDirectory)
  }

  /** The staging directory of the rebuild in progress, or null when none is staged. */
  stagedDirectory(): DirectorySnapshot | null {
    const staging = this.#data.stagingDirectory
    return staging.position.has('position') ? snapshotDirectory(staging) : null
  }
}

function toEventRecord(seed: MemoryEventSeed): MemoryEventRecord {
  const event = seed.event as { event_id?: unknown; sender?: unknown } | undefined
  const eventId = seed.event_id ?? event?.event_id
  const sender = seed.sender ?? event?.sender
  if (typeof eventId !== 'string') throw new TypeError('A seeded event needs an event_id')
  if (typeof sender !== 'string') throw new TypeError(`Seeded event ${eventId} needs a sender`)
  if (!Number.isSafeInteger(seed.stream_ordering)) {
    throw new TypeError(`Seeded event ${eventId} needs a safe integer stream_ordering`)
  }

  return {
    event_id: eventId,
    stream_ordering: seed.stream_ordering,
    room_version: seed.room_version,
    json: seed.json ?? JSON.stringify(seed.event),
    rejected: seed.rejected ?? false,
    sender,
    received_ts: seed.received_ts ?? 0,
  }
}
