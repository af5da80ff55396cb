/**
 * The `user_directory` capability: Synapse's user directory (`user_directory`,
 * `users_in_public_rooms`, `users_who_share_private_rooms` and `user_directory_stream_pos`), plus a
 * staging copy that a rebuild fills while the live one keeps serving. Used by
 * `regenerate_directory`.
 *
 * **A rebuild** goes through four writes, each in the transaction of one batch:
 *
 * 1. `begin_rebuild` (one {@link BeginRebuildRow}): drops any staging left by an earlier rebuild,
 *    then stages every room that has current state, with its number of current state events, and
 *    every user registered on the server (Synapse's `users`, deactivated ones included), and
 *    records `stream_position` as the staged position. Empty staging tables are created. The live
 *    directory is not touched.
 * 2. `stage_rooms` ({@link StagedRoomRow}): for each row, adds its rows to the staging tables and
 *    removes the room from the staged rooms. Directory entries replace the staged entry of the same
 *    user; pair and public-room rows are kept once per key.
 * 3. `stage_users` ({@link StagedUserRow}): for each row, stores its entry (when not null) in the
 *    staging directory, replacing one of the same user, and removes the user from the staged users.
 * 4. `finish_rebuild` (one {@link FinishRebuildRow}): the swap. It applies only when a rebuild is
 *    staged with exactly this `stream_position` and no staged room or user is left: then the live
 *    tables are replaced by the staging ones, the live `stream_position` is stored, and the staging
 *    is dropped, all in the batch's transaction. Otherwise nothing changes and the row is reported
 *    skipped, so running it again after a swap cannot empty the live directory.
 *
 * Rows of `stage_rooms` and `stage_users` are skipped (and reported) when no rebuild is staged.
 * Nothing but `finish_rebuild` changes what readers of the live directory see.
 *
 * @module
 */

/** A row of the user directory: a user's display name and avatar. */
export interface DirectoryEntryRow {
  readonly user_id: string
  readonly display_name: string | null
  readonly avatar_url: string | null
}

/** A user joined to a public room. */
export interface PublicRoomUserRow {
  readonly user_id: string
  readonly room_id: string
}

/** A local user and another user sharing a private room. */
export interface PrivateRoomPairRow {
  readonly user_id: string
  readonly other_user_id: string
  readonly room_id: string
}

/** A room waiting to be processed by a rebuild, with its number of current state events. */
export interface StagedRoom {
  readonly room_id: string
  readonly events: number
}

/** A local user's global profile (Synapse's `profiles`), as stored. */
export interface LocalProfileRow {
  readonly user_id: string
  readonly displayname: string | null
  readonly avatar_url: string | null
}

/** The row of `begin_rebuild`. */
export interface BeginRebuildRow {
  /** The host's current state delta stream position when the rebuild began: a safe integer. */
  readonly stream_position: number
}

/** A row of `stage_rooms`: what one processed room adds to the staging. */
export interface StagedRoomRow {
  readonly room_id: string
  readonly users_in_public_rooms: readonly PublicRoomUserRow[]
  readonly users_who_share_private_rooms: readonly PrivateRoomPairRow[]
  readonly user_directory: readonly DirectoryEntryRow[]
}

/** A row of `stage_users`: one processed local user and their entry, or null when excluded. */
export interface StagedUserRow {
  readonly user_id: string
  readonly entry: DirectoryEntryRow | null
}

/** The row of `finish_rebuild`. */
export interface FinishRebuildRow {
  /** The staged position the swap expects; it becomes the live directory's position. */
  readonly stream_position: number
}

/** The whole live directory; for hosts' checks and tests, not used by the jobs. */
export interface DirectorySnapshot {
  readonly user_directory: readonly DirectoryEntryRow[]
  readonly users_in_public_rooms: readonly PublicRoomUserRow[]
  readonly users_who_share_private_rooms: readonly PrivateRoomPairRow[]
  readonly stream_position: number | null
}

/** The read side of the `user_directory` capability. */
export interface UserDirectoryReader {
  /** The host's current state delta stream position now (a safe integer; 0 when none). */
  currentStreamPosition(signal?: AbortSignal): Promise<number>

  /** The staged position of the rebuild in progress, or null when none is staged. */
  stagedPosition(signal?: AbortSignal): Promise<number | null>

  /**
   * Staged rooms still to process, largest state first (`events` descending, then room ID
   * ascending by code point), at most `limit`. Empty when none is left or none is staged.
   */
  stagedRooms(limit: number, signal?: AbortSignal): Promise<StagedRoom[]>

  /** Staged users still to process, ascending by code point, at most `limit`. */
  stagedUserIds(limit: number, signal?: AbortSignal): Promise<string[]>

  /** The global profiles of these users; users without one are left out. */
  profiles(userIds: readonly string[], signal?: AbortSignal): Promise<LocalProfileRow[]>

  /** The live directory's stored stream position, or null when none was stored. */
  streamPosition(signal?: AbortSignal): Promise<number | null>
}

/** The name of the capability. */
export const USER_DIRECTORY_CAPABILITY = 'user_directory'

/** The operations of the capability, in the order a rebuild uses them. */
export const USER_DIRECTORY_OPS = {
  beginRebuild: 'begin_rebuild',
  stageRooms: 'stage_rooms',
  stageUsers: 'stage_users',
  finishRebuild: 'finish_rebuild',
} as const
