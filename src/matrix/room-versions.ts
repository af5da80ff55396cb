import { UnknownRoomVersionError } from './errors.js'

/**
 * How a room version forms its event IDs.
 *
 * - `origin-chosen`: `$localpart:server`, picked by the origin server and part of the signed event
 *   (versions 1 and 2).
 * - `reference-hash`: `$` and the reference hash in standard unpadded base64 (version 3).
 * - `url-safe-reference-hash`: the same in URL-safe unpadded base64 (versions 4 and later).
 */
export type EventIdFormat = 'origin-chosen' | 'reference-hash' | 'url-safe-reference-hash'

/**
 * The rules of one room version that decide how its events are redacted, hashed and signed. Names
 * follow the specification's room version pages; the MSC that introduced each rule is noted.
 */
export interface RoomVersionRules {
  /** The identifier, `"1"` to `"12"`. */
  readonly identifier: string
  readonly eventIdFormat: EventIdFormat
  /** `m.room.aliases` keeps `aliases` when redacted (versions 1–5; MSC2432 dropped it in v6). */
  readonly redactionKeepsAliases: boolean
  /** `m.room.join_rules` keeps `allow` when redacted (from version 8, MSC3083). */
  readonly redactionKeepsJoinRuleAllow: boolean
  /** `m.room.member` keeps `join_authorised_via_users_server` (from version 9, MSC3375). */
  readonly redactionKeepsAuthorisingUser: boolean
  /**
   * The version 11 redaction algorithm (MSC2176, MSC3821, MSC3989): `prev_state`, `membership` and
   * `origin` go; `m.room.create` keeps all of its content; power levels keep `invite`;
   * `m.room.redaction` keeps `redacts`; members keep `third_party_invite.signed`.
   */
  readonly updatedRedactionRules: boolean
  /** The create event has no `room_id`; the room ID derives from its event ID (v12, MSC4291). */
  readonly roomIdIsCreateEventId: boolean
  /** Floats and integers beyond ±(2^53 − 1) are refused in events (from version 6). */
  readonly strictCanonicalJson: boolean
}

const V1: RoomVersionRules = {
  identifier: '1',
  eventIdFormat: 'origin-chosen',
  redactionKeepsAliases: true,
  redactionKeepsJoinRuleAllow: false,
  redactionKeepsAuthorisingUser: false,
  updatedRedactionRules: false,
  roomIdIsCreateEventId: false,
  strictCanonicalJson: false,
}

/** Each version as the changes it makes to the one before, as the specification presents them. */
const CHANGES: ReadonlyArray<Partial<RoomVersionRules>> = [
  {},
  { eventIdFormat: 'reference-hash' },
  { eventIdFormat: 'url-safe-reference-hash' },
  {},
  { redactionKeepsAliases: false, strictCanonicalJson: true },
  {},
  { redactionKeepsJoinRuleAllow: true },
  { redactionKeepsAuthorisingUser: true },
  {},
  { updatedRedactionRules: true },
  { roomIdIsCreateEventId: true },
]

function buildRoomVersions(): ReadonlyMap<string, RoomVersionRules> {
  const versions = new Map<string, RoomVersionRules>([['1', Object.freeze(V1)]])
  let previous = V1

  CHANGES.forEach((change, index) => {
    const identifier = String(index + 2)
    previous = Object.freeze({ ...previous, ...change, identifier })
    versions.set(identifier, previous)
  })
  return versions
}

const ROOM_VERSIONS = buildRoomVersions()

/** The identifiers of the room versions this library knows, `"1"` to `"12"`. */
export const KNOWN_ROOM_VERSIONS: readonly string[] = Object.freeze([...ROOM_VERSIONS.keys()])

/** Whether `roomVersion` is the identifier of a room version this library knows. */
export function isKnownRoomVersion(roomVersion: unknown): roomVersion is string {
  return typeof roomVersion === 'string' && ROOM_VERSIONS.has(roomVersion)
}

/**
 * The rules of a room version.
 *
 * @param roomVersion the identifier as stored with the room, such as `"10"`.
 * @throws {UnknownRoomVersionError} for anything but `"1"` to `"12"`, unstable identifiers
 *   (`org.matrix.…`) included.
 * @example getRoomVersionRules('4').eventIdFormat // 'url-safe-reference-hash'
 */
export function getRoomVersionRules(roomVersion: string): RoomVersionRules {
  const rules = typeof roomVersion === 'string' ? ROOM_VERSIONS.get(roomVersion) : undefined
  if (rules === undefined) throw new UnknownRoomVersionError(roomVersion)
  return rules
}
