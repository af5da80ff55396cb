import type { JsonObject, JsonValue } from '../matrix/canonical-json.js'
import { RoomStateError } from '../matrix/errors.js'

/**
 * One event of a room's current state, as the pure computations of the built-in jobs read it. A
 * full event object fits; fields other than these are ignored.
 */
export interface StateEvent {
  /** The event type, such as `m.room.member`. */
  readonly type: string

  /** The state key: `""` for room-wide state, the user ID for `m.room.member`. */
  readonly state_key: string

  /** The sender's user ID. Not used by the computations; accepted so whole events can be passed. */
  readonly sender?: string

  /** The event content. `m.room.member` content must hold a string `membership`. */
  readonly content: JsonObject
}

/**
 * A room's current state: exactly one event per `(type, state_key)`, as a host's
 * `current_state_events` table holds it. A host may pass only the events a computation reads,
 * though the room stats count every event given as `current_state_events`.
 */
export interface RoomCurrentState {
  /** The room ID, such as `!abc:example.org`. */
  readonly roomId: string

  /** The events of the current state, in any order. */
  readonly stateEvents: readonly StateEvent[]
}

/** One `m.room.member` event of the current state, read. */
export interface RoomMember {
  /** The member's user ID: the event's state key. */
  readonly userId: string

  /** The `membership` of the content, as given (`join`, `invite`, `leave`, `ban`, `knock`, …). */
  readonly membership: string

  /** The event content, holding the per-room profile (`displayname`, `avatar_url`). */
  readonly content: JsonObject
}

/** A room's current state once checked: what the jobs' computations read from it. */
export interface IndexedRoomState {
  /** The room ID. */
  readonly roomId: string

  /** How many state events the current state holds. */
  readonly eventCount: number

  /** The content of each event whose state key is `""`, by event type. */
  readonly roomWide: ReadonlyMap<string, JsonObject>

  /** The `m.room.member` events, in the order given. */
  readonly members: readonly RoomMember[]
}

/**
 * Tells whether a value is a JSON object: not null, not an array.
 *
 * @param value - Any value.
 * @returns `true` for objects that are neither `null` nor arrays.
 */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Reads a field of an object only when the object itself holds it, never from its prototype.
 *
 * @param object - The object to read.
 * @param key - The field name, such as `m.federate`.
 * @returns The value, or `undefined` when the field is absent.
 */
export function ownField(object: JsonObject, key: string): JsonValue | undefined {
  return Object.hasOwn(object, key) ? object[key] : undefined
}

/**
 * Keeps a value that can be stored as text: a string without U+0000. Anything else becomes `null`,
 * as Synapse's `non_null_str_or_none` does before writing profile and room state columns.
 *
 * @param value - A value read from event content or a profile.
 * @returns The string, or `null`.
 */
export function textOrNull(value: unknown): string | null {
  return typeof value === 'string' && !value.includes('\u0000') ? value : null
}

/**
 * The server name of a user ID: everything after its first `:`, so that ports and IPv6 literals
 * (`@alice:[::1]:8448` → `[::1]:8448`) are kept whole, as Synapse's `is_mine_id` reads it.
 *
 * @param userId - A user ID such as `@alice:example.org:8448`.
 * @returns The server name, or `null` when the ID holds no `:`.
 */
export function serverNameOfUserId(userId: string): string | null {
  const colon = userId.indexOf(':')
  return colon === -1 ? null : userId.slice(colon + 1)
}

/**
 * Tells whether a user ID belongs to our server: its server name equals ours exactly.
 *
 * @param userId - A user ID.
 * @param serverName - Our server name, such as `example.org` or `[::1]:8448`.
 * @returns `true` for our users; `false` for others and for IDs without `:`.
 */
export function isLocalUserId(userId: string, serverName: string): boolean {
  return serverNameOfUserId(userId) === serverName
}

/**
 * Checks a server name given by the host.
 *
 * @param serverName - Our server name.
 * @throws TypeError when it is not a non-empty string.
 */
export function assertServerName(serverName: unknown): asserts serverName is string {
  if (typeof serverName !== 'string' || serverName === '') {
    throw new TypeError(`serverName must be a non-empty string, got ${describe(serverName)}`)
  }
}

/**
 * Checks a room's current state and indexes it for the jobs' computations. Reads, never changes,
 * the input.
 *
 * @param input - The room's current state.
 * @returns The room ID, the event count, the room-wide state by type and the member events.
 * @throws TypeError when `input` is not an object, `roomId` not a string or `stateEvents` not an
 *   array: the caller's mistake.
 * @throws RoomStateError when an event is malformed (not an object; `type` or `state_key` not a
 *   string; `content` not an object; an `m.room.member` without a string `membership`) or a
 *   `(type, state_key)` pair occurs twice: the stored state is bad, and a job skips the room.
 */
export function indexRoomState(input: RoomCurrentState): IndexedRoomState {
  assertRoomCurrentState(input)

  const roomWide = new Map<string, JsonObject>()
  const members: RoomMember[] = []
  const seen = new Set<string>()
  input.stateEvents.forEach((event: unknown, index) => {
    const checked = checkStateEvent(input.roomId, event, index)
    claimStateKey(input.roomId, seen, checked, index)
    if (checked.state_key === '') roomWide.set(checked.type, checked.content)
    if (checked.type === 'm.room.member') members.push(readMember(input.roomId, checked, index))
  })

  return { roomId: input.roomId, eventCount: input.stateEvents.length, roomWide, members }
}

function assertRoomCurrentState(input: unknown): asserts input is RoomCurrentState {
  if (!isJsonObject(input)) {
    throw new TypeError(`room state must be an object, got ${describe(input)}`)
  }

  if (typeof input.roomId !== 'string') {
    throw new TypeError(`roomId must be a string, got ${describe(input.roomId)}`)
  }

  if (!Array.isArray(input.stateEvents)) {
    throw new TypeError(`stateEvents must be an array, got ${describe(input.stateEvents)}`)
  }
}

function checkStateEvent(roomId: string, event: unknown, index: number): StateEvent {
  const path = `stateEvents[${index}]`
  if (!isJsonObject(event)) throw new RoomStateError(roomId, path, 'is not an object')

  if (typeof event.type !== 'string') {
    throw new RoomStateError(roomId, `${path}.type`, 'is not a string')
  }

  if (typeof event.state_key !== 'string') {
    throw new RoomStateError(roomId, `${path}.state_key`, 'is not a string')
  }

  if (!isJsonObject(event.content)) {
    throw new RoomStateError(roomId, `${path}.content`, 'is not an object')
  }

  return event as unknown as StateEvent
}

function claimStateKey(roomId: string, seen: Set<string>, event: StateEvent, index: number): void {
  const key = JSON.stringify([event.type, event.state_key])
  if (seen.has(key)) {
    throw new RoomStateError(roomId, `stateEvents[${index}]`, `repeats the state key ${key}`)
  }

  seen.add(key)
}

function readMember(roomId: string, event: StateEvent, index: number): RoomMember {
  const membership = ownField(event.content, 'membership')
  if (typeof membership !== 'string') {
    throw new RoomStateError(roomId, `stateEvents[${index}].content.membership`, 'is not a string')
  }

  return { userId: event.state_key, membership, content: event.content }
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  return Array.isArray(value) ? 'an array' : typeof value
}
