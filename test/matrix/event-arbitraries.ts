import fc from 'fast-check'
import type { JsonObject, JsonValue } from '../../src/index.js'

/** Room versions whose event IDs derive from the event (3 and later). */
export const DERIVED_ID_VERSIONS = ['3', '4', '5', '6', '7', '8', '9', '10', '11', '12'] as const

const MAX_SAFE = Number.MAX_SAFE_INTEGER

/** Text over all of Unicode (no lone surrogates), short, sometimes empty. */
const text = fc.string({ unit: 'binary', maxLength: 12 })

/** Keys the redaction rules care about, mixed with arbitrary ones so both paths are taken. */
const contentKey = fc.oneof(
  fc.constantFrom(
    'membership',
    'join_authorised_via_users_server',
    'third_party_invite',
    'signed',
    'creator',
    'room_version',
    'join_rule',
    'allow',
    'ban',
    'events',
    'events_default',
    'invite',
    'kick',
    'redact',
    'state_default',
    'users',
    'users_default',
    'aliases',
    'history_visibility',
    'redacts',
    'body',
    '__proto__',
  ),
  text,
)

const leaf: fc.Arbitrary<JsonValue> = fc.oneof(
  text,
  fc.integer({ min: -MAX_SAFE, max: MAX_SAFE }),
  fc.integer({ min: -1000, max: 1000 }),
  fc.boolean(),
  fc.constant(null),
)

/** Any canonical-JSON value: safe integers, well-formed strings, nested a little. */
export const jsonValue: fc.Arbitrary<JsonValue> = fc.letrec<{ value: JsonValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(contentKey, tie('value'), { maxKeys: 4, noNullPrototype: true }),
  ),
})).value

const content = fc.dictionary(contentKey, jsonValue, { maxKeys: 6, noNullPrototype: true })

const eventType = fc.constantFrom(
  'm.room.message',
  'm.room.member',
  'm.room.create',
  'm.room.join_rules',
  'm.room.power_levels',
  'm.room.aliases',
  'm.room.history_visibility',
  'm.room.redaction',
  'm.room.topic',
  'org.example.custom',
)

const serverName = fc.constantFrom('example.org', 'localhost:8448', '[::1]:8448', 'réseau.example')
const eventIdish = fc
  .string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 12 })
  .map((s) => `$${s}`)

/** An unsigned event of any type, as a server could build it, with its room version. */
export const eventArbitrary = (versions: readonly string[]) =>
  fc
    .record(
      {
        roomVersion: fc.constantFrom(...versions),
        server: serverName,
        localpart: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 8 }),
        type: eventType,
        content,
        state_key: fc.oneof(fc.constant(''), text),
        depth: fc.integer({ min: 0, max: MAX_SAFE }),
        origin_server_ts: fc.integer({ min: 0, max: MAX_SAFE }),
        prev_events: fc.array(eventIdish, { maxLength: 3 }),
        auth_events: fc.array(eventIdish, { maxLength: 3 }),
        extra: fc.dictionary(
          fc.constantFrom('origin', 'membership', 'prev_state', 'redacts', 'other_key'),
          jsonValue,
          { maxKeys: 2, noNullPrototype: true },
        ),
        unsigned: fc.dictionary(text, jsonValue, { maxKeys: 2, noNullPrototype: true }),
      },
      { requiredKeys: ['roomVersion', 'server', 'localpart', 'type', 'content', 'depth'] },
    )
    .map(({ roomVersion, server, localpart, extra, ...fields }) => {
      const event: JsonObject = {
        ...extra,
        ...fields,
        room_id: `!room:${server}`,
        sender: `@${localpart}:${server}`,
      }
      if (roomVersion === '1' || roomVersion === '2') event.event_id = `$${localpart}:${server}`
      return { roomVersion, serverName: server, event }
    })

/** Every path to a leaf or an empty container of a JSON value. */
export function leafPaths(
  value: JsonValue,
  prefix: (string | number)[] = [],
): (string | number)[][] {
  if (Array.isArray(value)) {
    if (value.length === 0) return [prefix]
    return value.flatMap((item, index) => leafPaths(item, [...prefix, index]))
  }
  if (typeof value === 'object' && value !== null) {
    const keys = Object.keys(value)
    if (keys.length === 0) return [prefix]
    return keys.flatMap((key) => leafPaths(value[key] as JsonValue, [...prefix, key]))
  }
  return [prefix]
}

/** A value that differs from `value` in its canonical JSON. */
export function changed(value: JsonValue): JsonValue {
  if (typeof value === 'string') return `${value}x`
  if (typeof value === 'number') return value === MAX_SAFE ? value - 1 : value + 1
  if (typeof value === 'boolean') return !value
  if (value === null) return 0
  if (Array.isArray(value)) return [...value, 0]
  return { ...value, 'x-added': 0 }
}

/** A deep copy of `root` with the value at `path` changed. */
export function changeAt(root: JsonObject, path: (string | number)[]): JsonObject {
  const copy = structuredClone(root) as JsonObject
  if (path.length === 0) return { ...copy, 'x-added': 0 }

  let parent = copy as Record<string | number, JsonValue>
  for (const step of path.slice(0, -1)) parent = parent[step] as Record<string | number, JsonValue>
  const last = path[path.length - 1] as string | number
  Object.defineProperty(parent, last, {
    value: changed(parent[last] as JsonValue),
    enumerable: true,
    writable: true,
    configurable: true,
  })
  return copy
}

/** Freezes a JSON value and everything in it, so that any write to it throws. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child)
    Object.freeze(value)
  }
  return value
}
