import { compareCodePoints } from '../../matrix/canonical-json.js'
import type {
  BeginRebuildRow,
  DirectorySnapshot,
  FinishRebuildRow,
  LocalProfileRow,
  StagedRoom,
  StagedRoomRow,
  StagedUserRow,
  UserDirectoryReader,
} from '../capabilities/user-directory.js'
import type { StorageWrite } from '../capabilities.js'
import {
  clearTable,
  type MemoryDirectoryTables,
  type MemoryHomeserverData,
} from './memory-homeserver.js'
import { roomsWithState } from './memory-room-state.js'

/** The `user_directory` reader over a memory homeserver. */
export function memoryUserDirectoryReader(data: MemoryHomeserverData): UserDirectoryReader {
  return {
    currentStreamPosition: async () => data.streamPosition.get('position') ?? 0,
    stagedPosition: async () => data.stagingDirectory.position.get('position') ?? null,
    streamPosition: async () => data.liveDirectory.position.get('position') ?? null,

    async stagedRooms(limit: number): Promise<StagedRoom[]> {
      return [...data.stagedRooms.values()]
        .sort((a, b) => b.events - a.events || compareCodePoints(a.room_id, b.room_id))
        .slice(0, limit)
        .map((room) => ({ ...room }))
    },

    async stagedUserIds(limit: number): Promise<string[]> {
      return [...data.stagedUsers.entries()]
        .map(([userId]) => userId)
        .sort(compareCodePoints)
        .slice(0, limit)
    },

    async profiles(userIds: readonly string[]): Promise<LocalProfileRow[]> {
      return [...new Set(userIds)].flatMap((userId) => {
        const profile = data.profiles.get(userId)
        return profile ? [{ ...profile }] : []
      })
    },
  }
}

/** The `user_directory` write operations of a memory homeserver, by name. */
export function userDirectoryOperations(data: MemoryHomeserverData) {
  return {
    begin_rebuild: (write: StorageWrite) => beginRebuild(data, write),
    stage_rooms: (write: StorageWrite) => stageRooms(data, write),
    stage_users: (write: StorageWrite) => stageUsers(data, write),
    finish_rebuild: (write: StorageWrite) => finishRebuild(data, write),
  }
}

/** A copy of a directory's tables, or of the live one by default. */
export function snapshotDirectory(tables: MemoryDirectoryTables): DirectorySnapshot {
  return structuredClone({
    user_directory: [...tables.entries.values()],
    users_in_public_rooms: [...tables.publicRooms.values()],
    users_who_share_private_rooms: [...tables.privatePairs.values()],
    stream_position: tables.position.get('position') ?? null,
  })
}

function beginRebuild(data: MemoryHomeserverData, write: StorageWrite) {
  const [row] = write.rows as BeginRebuildRow[]
  if (write.rows.length !== 1 || row === undefined || !Number.isSafeInteger(row.stream_position)) {
    throw new TypeError('begin_rebuild takes exactly one row with a safe integer stream_position')
  }

  clearDirectory(data.stagingDirectory)
  clearTable(data.stagedRooms)
  clearTable(data.stagedUsers)
  for (const roomId of roomsWithState(data)) {
    const events = data.roomState.get(roomId)?.length ?? 0
    data.stagedRooms.set(roomId, { room_id: roomId, events })
  }
  for (const [userId] of data.users.entries()) data.stagedUsers.set(userId, true)
  data.stagingDirectory.position.set('position', row.stream_position)
  return { skipped: [] }
}

function stageRooms(data: MemoryHomeserverData, write: StorageWrite) {
  const staging = data.stagingDirectory
  if (!staging.position.has('position')) return { skipped: [...write.rows] }

  for (const row of write.rows as StagedRoomRow[]) {
    for (const pub of row.users_in_public_rooms) {
      staging.publicRooms.set(JSON.stringify([pub.user_id, pub.room_id]), { ...pub })
    }
    for (const pair of row.users_who_share_private_rooms) {
      const key = JSON.stringify([pair.user_id, pair.other_user_id, pair.room_id])
      staging.privatePairs.set(key, { ...pair })
    }
    for (const entry of row.user_directory) staging.entries.set(entry.user_id, { ...entry })
    data.stagedRooms.delete(row.room_id)
  }

  return { skipped: [] }
}

function stageUsers(data: MemoryHomeserverData, write: StorageWrite) {
  const staging = data.stagingDirectory
  if (!staging.position.has('position')) return { skipped: [...write.rows] }

  for (const row of write.rows as StagedUserRow[]) {
    if (row.entry !== null) staging.entries.set(row.user_id, { ...row.entry })
    data.stagedUsers.delete(row.user_id)
  }

  return { skipped: [] }
}

function finishRebuild(data: MemoryHomeserverData, write: StorageWrite) {
  const rows = write.rows as FinishRebuildRow[]
  const staging = data.stagingDirectory
  const ready =
    rows.length === 1 &&
    staging.position.get('position') === rows[0]?.stream_position &&
    data.stagedRooms.size === 0 &&
    data.stagedUsers.size === 0
  if (!ready) return { skipped: [...rows] }

  const live = data.liveDirectory
  clearDirectory(live)
  for (const [key, row] of staging.entries.entries()) live.entries.set(key, row)
  for (const [key, row] of staging.publicRooms.entries()) live.publicRooms.set(key, row)
  for (const [key, row] of staging.privatePairs.entries()) live.privatePairs.set(key, row)
  live.position.set('position', (rows[0] as FinishRebuildRow).stream_position)
  clearDirectory(staging)
  return { skipped: [] }
}

function clearDirectory(tables: MemoryDirectoryTables): void {
  clearTable(tables.entries)
  clearTable(tables.publicRooms)
  clearTable(tables.privatePairs)
  clearTable(tables.position)
}
