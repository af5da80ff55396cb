import { describeType } from './base64.js'
import type { JsonObject, JsonValue } from './canonical-json.js'
import { MalformedEventError } from './errors.js'
import { getRoomVersionRules, type RoomVersionRules } from './room-versions.js'

/** Top-level keys every room version keeps. */
const KEPT_KEYS = [
  'event_id',
  'type',
  'room_id',
  'sender',
  'state_key',
  'content',
  'hashes',
  'signatures',
  'depth',
  'prev_events',
  'auth_events',
  'origin_server_ts',
] as const

/** Top-level keys kept before the version 11 algorithm only. */
const KEPT_KEYS_BEFORE_V11 = ['prev_state', 'membership', 'origin'] as const

const POWER_LEVELS_KEYS = [
  'ban',
  'events',
  'events_default',
  'kick',
  'redact',
  'state_default',
  'users',
  'users_default',
] as const

/** @internal */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** @throws {TypeError} when `event` is not a JSON object. @internal */
export function assertEventObject(event: unknown): asserts event is JsonObject {
  if (!isJsonObject(event)) {
    throw new TypeError(`event must be a JSON object, got ${describeType(event)}`)
  }
}

/** Sets a key as an own data property, so that a `__proto__` key stays data. */
function put(target: JsonObject, key: string, value: JsonValue): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    })
  } else {
    target[key] = value
  }
}

function copyKeys(source: JsonObject, target: JsonObject, keys: readonly string[]): void {
  for (const key of keys) {
    if (Object.hasOwn(source, key)) put(target, key, source[key] as JsonValue)
  }
}

/** `third_party_invite` reduced to its `signed` part; dropped when it is not an object. */
function copyThirdPartyInvite(content: JsonObject, target: JsonObject): void {
  const invite = content.third_party_invite
  if (!Object.hasOwn(content, 'third_party_invite') || !isJsonObject(invite)) return

  const kept: JsonObject = {}
  copyKeys(invite, kept, ['signed'])
  target.third_party_invite = kept
}

function memberContentKeys(rules: RoomVersionRules): string[] {
  return rules.redactionKeepsAuthorisingUser
    ? ['membership', 'join_authorised_via_users_server']
    : ['membership']
}

/**
 * The content keys a redaction keeps, by event type; the create event of v11+ keeps them all.
 * Shares the kept values with `content`.
 *
 * @internal
 */
export function redactContent(
  type: string,
  content: JsonObject,
  rules: RoomVersionRules,
): JsonObject {
  const kept: JsonObject = {}
  switch (type) {
    case 'm.room.member':
      copyKeys(content, kept, memberContentKeys(rules))
      if (rules.updatedRedactionRules) copyThirdPartyInvite(content, kept)
      break
    case 'm.room.create':
      copyKeys(content, kept, rules.updatedRedactionRules ? Object.keys(content) : ['creator'])
      break
    case 'm.room.join_rules':
      copyKeys(
        content,
        kept,
        rules.redactionKeepsJoinRuleAllow ? ['join_rule', 'allow'] : ['join_rule'],
      )
      break
    case 'm.room.power_levels':
      copyKeys(content, kept, POWER_LEVELS_KEYS)
      if (rules.updatedRedactionRules) copyKeys(content, kept, ['invite'])
      break
    case 'm.room.aliases':
      if (rules.redactionKeepsAliases) copyKeys(content, kept, ['aliases'])
      break
    case 'm.room.history_visibility':
      copyKeys(content, kept, ['history_visibility'])
      break
    case 'm.room.redaction':
      if (rules.updatedRedactionRules) copyKeys(content, kept, ['redacts'])
      break
  }
  return kept
}

// The top-level key lists, built once rather than for every event redacted.
const KEPT_FROM_V11: readonly string[] = KEPT_KEYS
const KEPT_BEFORE_V11: readonly string[] = [...KEPT_KEYS, ...KEPT_KEYS_BEFORE_V11]

function topLevelKeys(type: string, rules: RoomVersionRules): readonly string[] {
  const keys = rules.updatedRedactionRules ? KEPT_FROM_V11 : KEPT_BEFORE_V11
  if (type === 'm.room.create' && rules.roomIdIsCreateEventId) {
    return keys.filter((key) => key !== 'room_id')
  }
  return keys
}

const KEPT_SET_FROM_V11: ReadonlySet<string> = new Set(KEPT_FROM_V11)
const KEPT_SET_BEFORE_V11: ReadonlySet<string> = new Set(KEPT_BEFORE_V11)

/**
 * The top-level keys a redaction keeps for an event of this type, as a set.
 *
 * @internal
 */
export function keptTopLevelKeys(type: string, rules: RoomVersionRules): ReadonlySet<string> {
  const keys = topLevelKeys(type, rules)
  if (keys === KEPT_FROM_V11) return KEPT_SET_FROM_V11
  if (keys === KEPT_BEFORE_V11) return KEPT_SET_BEFORE_V11
  // The create event of a version whose room ID is the create event's ID: rare enough to build.
  return new Set(keys)
}

/**
 * The redacted form of an event, sharing the kept values with the input (content is rebuilt). For
 * hashing and signing, which only read it.
 *
 * @throws {TypeError} when `event` is not a JSON object.
 * @throws {MalformedEventError} when `type` is not a string or `content` not an object.
 * @internal
 */
export function redactShallow(event: unknown, rules: RoomVersionRules): JsonObject {
  assertEventObject(event)
  const type = event.type
  const content = event.content
  if (typeof type !== 'string') throw new MalformedEventError('$.type', 'must be a string')
  if (!isJsonObject(content)) throw new MalformedEventError('$.content', 'must be an object')

  const redacted: JsonObject = {}
  copyKeys(event, redacted, topLevelKeys(type, rules))
  redacted.content = redactContent(type, content, rules)
  return redacted
}

/** A deep copy of JSON data that keeps `__proto__` keys as data. */
function deepCopy(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(deepCopy)
  if (!isJsonObject(value)) return value

  const copy: JsonObject = {}
  for (const key of Object.keys(value)) put(copy, key, deepCopy(value[key] as JsonValue))
  return copy
}

/**
 * Redacts an event as the redaction algorithm of its room version requires (specification, room
 * versions 1–12, "Redactions"). Top-level keys other than `event_id`, `type`, `room_id`, `sender`,
 * `state_key`, `content`, `hashes`, `signatures`, `depth`, `prev_events`, `auth_events` and
 * `origin_server_ts` (plus `prev_state`, `membership` and `origin` before version 11) are removed,
 * `unsigned` included; `content` keeps only the keys its event type protects in that version. In
 * version 12 the create event also loses any `room_id`.
 *
 * This is the form an event's signatures cover, and the form its reference hash and (from
 * version 3) its event ID are computed from.
 *
 * @param roomVersion the room version identifier, `"1"` to `"12"`.
 * @returns a new object that shares nothing with the input.
 * @throws {UnknownRoomVersionError} for a room version other than `"1"` to `"12"`.
 * @throws {TypeError} when `event` is not a JSON object.
 * @throws {MalformedEventError} when `type` is not a string or `content` is not an object.
 * @example
 * redactEvent({ type: 'm.room.message', content: { body: 'hi' }, unsigned: { age: 5 } }, '10')
 * // { type: 'm.room.message', content: {} }
 */
export function redactEvent(event: object, roomVersion: string): JsonObject {
  const rules = getRoomVersionRules(roomVersion)
  return deepCopy(redactShallow(event, rules)) as JsonObject
}
