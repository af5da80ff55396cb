import type {
  RoomStatsCurrentColumns,
  RoomStatsStateColumns,
} from '../adapters/capabilities/room-stats.js'
import type { JsonObject, JsonValue } from '../matrix/canonical-json.js'
import {
  assertServerName,
  type IndexedRoomState,
  indexRoomState,
  isJsonObject,
  isLocalUserId,
  ownField,
  type RoomCurrentState,
  textOrNull,
} from './room-state.js'

/** The counts of one room: the `room_stats_current` row of the `room_stats` capability. */
export type RoomStatsCurrentRow = RoomStatsCurrentColumns

/** The summary of one room's state: the `room_stats_state` row of the `room_stats` capability. */
export type RoomStatsStateRow = RoomStatsStateColumns

/** What `populate_stats_process_rooms` writes for one room. */
export interface RoomStats {
  /** The `room_stats_current` row. */
  readonly current: RoomStatsCurrentRow

  /** The `room_stats_state` row. */
  readonly state: RoomStatsStateRow
}

/**
 * Computes a room's stats from its current state, as Synapse's `populate_stats_process_rooms` does,
 * plus `guest_access`. Pure: reads, never changes, its input.
 *
 * Member counts go by each `m.room.member` event's `membership`; one outside the five kinds is
 * counted in none. The state summary reads only events whose state key is `""`.
 *
 * @param input - The room's current state.
 * @param serverName - Our server name, compared whole with the part of each user ID after its
 *   first `:` (`example.org`, `example.org:8448`, `[::1]:8448`).
 * @returns The `room_stats_current` and `room_stats_state` rows.
 * @throws TypeError when `input` is not a {@link RoomCurrentState} or `serverName` is not a
 *   non-empty string.
 * @throws RoomStateError when an event of the state is malformed; the job skips the room.
 *
 * @example
 * ```ts
 * const { current, state } = computeRoomStats({ roomId, stateEvents }, 'example.org')
 * ```
 */
export function computeRoomStats(input: RoomCurrentState, serverName: string): RoomStats {
  assertServerName(serverName)

  const room = indexRoomState(input)

  return { current: currentRow(room, serverName), state: stateRow(room) }
}

function currentRow(room: IndexedRoomState, serverName: string): RoomStatsCurrentRow {
  const count = (membership: string) =>
    room.members.filter((member) => member.membership === membership).length

  const localJoined = room.members.filter(
    (member) => member.membership === 'join' && isLocalUserId(member.userId, serverName),
  )

  return {
    room_id: room.roomId,
    current_state_events: room.eventCount,
    joined_members: count('join'),
    invited_members: count('invite'),
    left_members: count('leave'),
    banned_members: count('ban'),
    knocked_members: count('knock'),
    local_users_in_room: localJoined.length,
  }
}

function stateRow(room: IndexedRoomState): RoomStatsStateRow {
  const field = (type: string, key: string) => {
    const content = room.roomWide.get(type)
    return content === undefined ? null : textOrNull(ownField(content, key))
  }

  const create = room.roomWide.get('m.room.create')
  const topic = room.roomWide.get('m.room.topic')

  return {
    room_id: room.roomId,
    name: field('m.room.name', 'name'),
    topic: topic === undefined ? null : textOrNull(plainTextTopic(topic)),
    canonical_alias: field('m.room.canonical_alias', 'alias'),
    avatar: field('m.room.avatar', 'url'),
    join_rules: field('m.room.join_rules', 'join_rule'),
    history_visibility: field('m.room.history_visibility', 'history_visibility'),
    encryption: field('m.room.encryption', 'algorithm'),
    room_type: field('m.room.create', 'type'),
    guest_access: field('m.room.guest_access', 'guest_access'),
    is_federatable: create === undefined || isFederatable(create),
  }
}

function isFederatable(createContent: JsonObject): boolean {
  const federate = ownField(createContent, 'm.federate')
  return federate === undefined || federate === true
}

/**
 * The plain-text topic of `m.room.topic` content (spec 1.15, MSC3765), as Synapse reads it: `topic`
 * must be a string or there is none; a `text/plain` body of `m.topic` wins over it.
 *
 * @param content - The `m.room.topic` content.
 * @returns The topic, or `null`.
 */
export function plainTextTopic(content: JsonObject): string | null {
  const topic = ownField(content, 'topic')
  if (typeof topic !== 'string') return null

  return firstPlainTextBody(ownField(content, 'm.topic')) ?? topic
}

/**
 * The first `m.text` representation that is valid (a string `body`, a `mimetype` that is a string,
 * `null` or absent) and plain text (a `mimetype` of `text/plain`, empty or absent). Invalid
 * representations are passed over; an `m.topic` that is not an object with an `m.text` array has
 * none.
 */
function firstPlainTextBody(block: JsonValue | undefined): string | null {
  if (!isJsonObject(block)) return null

  const representations = ownField(block, 'm.text')
  if (!Array.isArray(representations)) return null

  const plain = representations.find(isPlainTextRepresentation)
  return plain === undefined ? null : (ownField(plain as JsonObject, 'body') as string)
}

function isPlainTextRepresentation(representation: JsonValue): boolean {
  if (!isJsonObject(representation)) return false
  if (typeof ownField(representation, 'body') !== 'string') return false

  const mimetype = ownField(representation, 'mimetype')
  if (mimetype === undefined || mimetype === null || mimetype === '') return true
  return mimetype === 'text/plain'
}
