import type { JsonValue } from '../matrix/canonical-json.js'
import {
  assertServerName,
  type IndexedRoomState,
  indexRoomState,
  isLocalUserId,
  ownField,
  type RoomCurrentState,
  type RoomMember,
  textOrNull,
} from './room-state.js'

/** What the directory computations need to know of our server. */
export interface UserDirectoryOptions {
  /** Our server name, compared whole with the part of each user ID after its first `:`. */
  readonly serverName: string

  /**
   * Tells whether one of our users is kept out of the directory: deactivated, a support user, an
   * application service's sender or a user in its namespace. Asked about local users only, as
   * Synapse asks. It must answer synchronously; a host whose answer needs a query resolves it for
   * the batch first. By default nobody is excluded.
   */
  readonly isExcludedUser?: (userId: string) => boolean
}

/** A row of the `user_directory` table. */
export interface UserDirectoryEntry {
  /** The user ID. */
  readonly user_id: string

  /** The display name, or `null` when absent, not a string or holding U+0000. */
  readonly display_name: string | null

  /** The avatar URL, or `null` when absent, not a string or holding U+0000. */
  readonly avatar_url: string | null
}

/** A row of the `users_in_public_rooms` table. */
export interface UserInPublicRoomRow {
  /** A user joined to the room. */
  readonly user_id: string

  /** The public room. */
  readonly room_id: string
}

/** A row of the `users_who_share_private_rooms` table. */
export interface UsersWhoSharePrivateRoomRow {
  /** A local user joined to the room. */
  readonly user_id: string

  /** Another user joined to the room, local or remote. */
  readonly other_user_id: string

  /** The private room. */
  readonly room_id: string
}

/** What `populate_user_directory_process_rooms` writes for one room. */
export interface RoomDirectoryRows {
  /** The room ID. */
  readonly room_id: string

  /**
   * Whether one of our users, excluded or not, is joined. When not, the room is passed over and
   * every list is empty, as in Synapse.
   */
  readonly host_joined: boolean

  /** Whether the room is public for the directory; see {@link isRoomPublicForDirectory}. */
  readonly is_public: boolean

  /** For a public room: every joined user that is not excluded. Empty for a private room. */
  readonly users_in_public_rooms: readonly UserInPublicRoomRow[]

  /**
   * For a private room: `(L, M)` for every joined local user L and every other joined user M, none
   * excluded. Two local users therefore give both orders. Empty for a public room.
   */
  readonly users_who_share_private_rooms: readonly UsersWhoSharePrivateRoomRow[]

  /**
   * An entry for every joined remote user, from their profile in this room. Local users' entries
   * come from their global profile instead; see {@link localUserDirectoryEntry}.
   */
  readonly user_directory: readonly UserDirectoryEntry[]
}

/** A local user's global profile, as a host's `profiles` table holds it. */
export interface GlobalProfile {
  /** The display name. */
  readonly displayname?: JsonValue

  /** The avatar URL, usually an `mxc://` URI. */
  readonly avatar_url?: JsonValue
}

/**
 * Tells whether a room is public for the user directory, as Synapse's
 * `is_room_world_readable_or_publicly_joinable` decides: its `m.room.join_rules` `join_rule` is
 * exactly `public`, or its `m.room.history_visibility` `history_visibility` is exactly
 * `world_readable`. `knock` and `restricted` rooms are private.
 *
 * @param input - The room's current state; only the two events with state key `""` are read.
 * @returns `true` for a public room.
 * @throws TypeError or RoomStateError as {@link computeRoomDirectoryRows} does.
 */
export function isRoomPublicForDirectory(input: RoomCurrentState): boolean {
  return isPublic(indexRoomState(input))
}

/**
 * Computes what Synapse's `populate_user_directory_process_rooms` writes for one room: the users in
 * it if it is public, the pairs sharing it if it is private, and directory entries for its remote
 * members. Pure: reads, never changes, its input; rows come in the order of the member events.
 *
 * @param input - The room's current state; the join rules, history visibility and member events are
 *   read.
 * @param options - Our server name and the exclusion predicate.
 * @returns The room's rows; all empty when none of our users is joined.
 * @throws TypeError when `input` is not a {@link RoomCurrentState}, `serverName` not a non-empty
 *   string, `isExcludedUser` not a function, or its answer not a boolean.
 * @throws RoomStateError when an event of the state is malformed; the job skips the room.
 *
 * @example
 * ```ts
 * const rows = computeRoomDirectoryRows({ roomId, stateEvents }, { serverName, isExcludedUser })
 * ```
 */
export function computeRoomDirectoryRows(
  input: RoomCurrentState,
  options: UserDirectoryOptions,
): RoomDirectoryRows {
  const isLocal = localUserTest(options)
  const isExcluded = exclusionTest(options)
  const room = indexRoomState(input)

  const joined = room.members.filter((member) => member.membership === 'join')
  const hostJoined = joined.some((member) => isLocal(member.userId))
  const included = hostJoined
    ? joined.filter((member) => !(isLocal(member.userId) && isExcluded(member.userId)))
    : []

  return roomRows(room, included, hostJoined, isLocal)
}

/**
 * Computes the directory entry of one of our users from their global profile, as Synapse's
 * `populate_user_directory_process_users` does for every local user, in a room or not. Pure.
 *
 * @param userId - One of our users.
 * @param profile - Their global profile; `null` or `undefined` when they have none.
 * @param options - Our server name and the exclusion predicate.
 * @returns The entry, or `null` when the user is excluded.
 * @throws TypeError when `userId` is not a user ID of our server, `serverName` not a non-empty
 *   string, `profile` not an object, `isExcludedUser` not a function, or its answer not a boolean.
 */
export function localUserDirectoryEntry(
  userId: string,
  profile: GlobalProfile | null | undefined,
  options: UserDirectoryOptions,
): UserDirectoryEntry | null {
  const isLocal = localUserTest(options)
  const isExcluded = exclusionTest(options)

  if (typeof userId !== 'string' || !isLocal(userId)) {
    throw new TypeError(`userId must be a user ID of ${options.serverName}`)
  }

  if (profile !== null && profile !== undefined && typeof profile !== 'object') {
    throw new TypeError(`profile must be an object, null or undefined, got ${typeof profile}`)
  }

  if (isExcluded(userId)) return null
  return entry(userId, profile?.displayname, profile?.avatar_url)
}

function roomRows(
  room: IndexedRoomState,
  included: readonly RoomMember[],
  hostJoined: boolean,
  isLocal: (userId: string) => boolean,
): RoomDirectoryRows {
  const isPublicRoom = isPublic(room)
  const remote = included.filter((member) => !isLocal(member.userId))

  return {
    room_id: room.roomId,
    host_joined: hostJoined,
    is_public: isPublicRoom,
    users_in_public_rooms: isPublicRoom ? publicRows(room.roomId, included) : [],
    users_who_share_private_rooms: isPublicRoom ? [] : privatePairs(room.roomId, included, isLocal),
    user_directory: remote.map((member) => memberEntry(member)),
  }
}

function isPublic(room: IndexedRoomState): boolean {
  const joinRules = room.roomWide.get('m.room.join_rules')
  if (joinRules !== undefined && ownField(joinRules, 'join_rule') === 'public') return true

  const visibility = room.roomWide.get('m.room.history_visibility')
  return visibility !== undefined && ownField(visibility, 'history_visibility') === 'world_readable'
}

function publicRows(roomId: string, included: readonly RoomMember[]): UserInPublicRoomRow[] {
  return included.map((member) => ({ user_id: member.userId, room_id: roomId }))
}

function privatePairs(
  roomId: string,
  included: readonly RoomMember[],
  isLocal: (userId: string) => boolean,
): UsersWhoSharePrivateRoomRow[] {
  const locals = included.filter((member) => isLocal(member.userId))

  return locals.flatMap((local) =>
    included
      .filter((other) => other.userId !== local.userId)
      .map((other) => ({ user_id: local.userId, other_user_id: other.userId, room_id: roomId })),
  )
}

function memberEntry(member: RoomMember): UserDirectoryEntry {
  const content = member.content
  return entry(member.userId, ownField(content, 'displayname'), ownField(content, 'avatar_url'))
}

function entry(userId: string, displayName: unknown, avatarUrl: unknown): UserDirectoryEntry {
  return {
    user_id: userId,
    display_name: textOrNull(displayName),
    avatar_url: textOrNull(avatarUrl),
  }
}

function localUserTest(options: UserDirectoryOptions): (userId: string) => boolean {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('options must be an object holding serverName')
  }

  const serverName = options.serverName
  assertServerName(serverName)
  return (userId) => isLocalUserId(userId, serverName)
}

/** Wraps the host's predicate so that an answer other than a boolean (a Promise, say) throws. */
function exclusionTest(options: UserDirectoryOptions): (userId: string) => boolean {
  const predicate = options.isExcludedUser
  if (predicate === undefined) return () => false

  if (typeof predicate !== 'function') {
    throw new TypeError(`isExcludedUser must be a function, got ${typeof predicate}`)
  }

  return (userId) => {
    const answer: unknown = predicate(userId)
    if (typeof answer === 'boolean') return answer
    throw new TypeError(`isExcludedUser must return a boolean, got ${typeof answer} for ${userId}`)
  }
}
