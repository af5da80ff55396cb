import {
  type BeginRebuildRow,
  type DirectoryEntryRow,
  type DirectorySnapshot,
  type FinishRebuildRow,
  type LocalProfileRow,
  type StagedRoom,
  type StagedRoomRow,
  type StagedUserRow,
  type StorageWrite,
  USER_DIRECTORY_CAPABILITY,
  USER_DIRECTORY_OPS,
  type UserDirectoryReader,
} from 'matrix-background-updates'
import {
  type SqliteCapabilityContext,
  type SqliteCapabilityInstance,
  type SqliteCapabilityModule,
  throwIfAborted,
} from './sqlite-capability.js'

/** The `user_directory` capability's instance: its reader, its writes and a snapshot for checks. */
export interface SqliteUserDirectoryInstance extends SqliteCapabilityInstance<UserDirectoryReader> {
  /** The whole live directory, sorted by its keys. */
  snapshot(): Promise<DirectorySnapshot>
}

/** The names of the live tables and their staging copies. */
function tables(context: SqliteCapabilityContext) {
  const t = context.table
  return {
    live: {
      entries: t('user_directory'),
      publicRooms: t('users_in_public_rooms'),
      pairs: t('users_who_share_private_rooms'),
    },
    staging: {
      entries: t('user_directory_staging'),
      publicRooms: t('users_in_public_rooms_staging'),
      pairs: t('users_who_share_private_rooms_staging'),
    },
    position: t('user_directory_stream_pos'),
    rooms: t('user_directory_rebuild_rooms'),
    users: t('user_directory_rebuild_users'),
    stagedPosition: t('user_directory_rebuild_position'),
  }
}

type DirectoryTables = ReturnType<typeof tables>

function positionOrNull(row: unknown): number | null {
  const value = (row as { stream_id?: number | null } | undefined)?.stream_id
  return value ?? null
}

function userDirectoryReader(context: SqliteCapabilityContext): UserDirectoryReader {
  const names = tables(context)
  const run = async <T>(signal: AbortSignal | undefined, read: () => T): Promise<T> => {
    await context.open()
    throwIfAborted(signal)
    return read()
  }

  return {
    currentStreamPosition: (signal) =>
      run(signal, () => {
        const sql = `SELECT COALESCE(MAX(stream_id), 0) AS stream_id FROM ${context.table('current_state_delta_stream')}`
        return positionOrNull(context.statement(sql).get()) ?? 0
      }),
    stagedPosition: (signal) =>
      run(signal, () =>
        positionOrNull(context.statement(`SELECT stream_id FROM ${names.stagedPosition}`).get()),
      ),
    streamPosition: (signal) =>
      run(signal, () =>
        positionOrNull(context.statement(`SELECT stream_id FROM ${names.position}`).get()),
      ),
    stagedRooms: (limit, signal) =>
      run(signal, () => {
        const sql = `SELECT room_id, events FROM ${names.rooms} ORDER BY events DESC, room_id LIMIT ?`
        return context.statement(sql).all(limit) as StagedRoom[]
      }),
    stagedUserIds: (limit, signal) =>
      run(signal, () => {
        const sql = `SELECT user_id FROM ${names.users} ORDER BY user_id LIMIT ?`
        const rows = context.statement(sql).all(limit) as { user_id: string }[]
        return rows.map((row) => row.user_id)
      }),
    profiles: (userIds, signal) => run(signal, () => readProfiles(context, userIds)),
  }
}

function readProfiles(
  context: SqliteCapabilityContext,
  userIds: readonly string[],
): LocalProfileRow[] {
  const statement = context.statement(
    `SELECT full_user_id AS user_id, displayname, avatar_url FROM ${context.table('profiles')} WHERE full_user_id = ?`,
  )

  return [...new Set(userIds)].flatMap((userId) => {
    const row = statement.get(userId) as LocalProfileRow | undefined
    return row ? [row] : []
  })
}

function clearStaging(context: SqliteCapabilityContext, names: DirectoryTables): void {
  for (const table of [...Object.values(names.staging), names.rooms, names.users]) {
    context.statement(`DELETE FROM ${table}`).run()
  }
  context.statement(`DELETE FROM ${names.stagedPosition}`).run()
}

function beginRebuild(
  context: SqliteCapabilityContext,
  names: DirectoryTables,
  write: StorageWrite,
) {
  const [row] = write.rows as BeginRebuildRow[]
  if (write.rows.length !== 1 || !Number.isSafeInteger(row?.stream_position)) {
    throw new TypeError('begin_rebuild takes exactly one row with a safe integer stream_position')
  }

  clearStaging(context, names)
  const state = context.table('current_state_events')
  context
    .statement(
      `INSERT INTO ${names.rooms} (room_id, events) SELECT room_id, COUNT(*) FROM ${state} GROUP BY room_id`,
    )
    .run()
  context
    .statement(`INSERT INTO ${names.users} (user_id) SELECT name FROM ${context.table('users')}`)
    .run()
  context
    .statement(`INSERT INTO ${names.stagedPosition} (lock, stream_id) VALUES ('X', ?)`)
    .run(row?.stream_position)

  return { skipped: [] }
}

function isStaged(context: SqliteCapabilityContext, names: DirectoryTables): boolean {
  return context.statement(`SELECT 1 AS staged FROM ${names.stagedPosition}`).get() !== undefined
}

function entryUpsert(context: SqliteCapabilityContext, table: string) {
  const statement = context.statement(
    `INSERT INTO ${table} (user_id, room_id, display_name, avatar_url) VALUES (?, NULL, ?, ?)
     ON CONFLICT (user_id) DO UPDATE
     SET display_name = excluded.display_name, avatar_url = excluded.avatar_url`,
  )
  return (entry: DirectoryEntryRow) =>
    statement.run(entry.user_id, entry.display_name, entry.avatar_url)
}

function stageRooms(context: SqliteCapabilityContext, names: DirectoryTables, write: StorageWrite) {
  if (!isStaged(context, names)) return { skipped: [...write.rows] }

  const staging = names.staging
  const putEntry = entryUpsert(context, staging.entries)
  const putPublic = context.statement(
    `INSERT INTO ${staging.publicRooms} (user_id, room_id) VALUES (?, ?) ON CONFLICT DO NOTHING`,
  )
  const putPair = context.statement(
    `INSERT INTO ${staging.pairs} (user_id, other_user_id, room_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
  )
  const done = context.statement(`DELETE FROM ${names.rooms} WHERE room_id = ?`)
  for (const row of write.rows as StagedRoomRow[]) {
    for (const pub of row.users_in_public_rooms) putPublic.run(pub.user_id, pub.room_id)
    for (const pair of row.users_who_share_private_rooms) {
      putPair.run(pair.user_id, pair.other_user_id, pair.room_id)
    }
    for (const entry of row.user_directory) putEntry(entry)
    done.run(row.room_id)
  }

  return { skipped: [] }
}

function stageUsers(context: SqliteCapabilityContext, names: DirectoryTables, write: StorageWrite) {
  if (!isStaged(context, names)) return { skipped: [...write.rows] }

  const putEntry = entryUpsert(context, names.staging.entries)
  const done = context.statement(`DELETE FROM ${names.users} WHERE user_id = ?`)
  for (const row of write.rows as StagedUserRow[]) {
    if (row.entry !== null) putEntry(row.entry)
    done.run(row.user_id)
  }

  return { skipped: [] }
}

function readyToSwap(
  context: SqliteCapabilityContext,
  names: DirectoryTables,
  rows: readonly FinishRebuildRow[],
): boolean {
  const staged = positionOrNull(
    context.statement(`SELECT stream_id FROM ${names.stagedPosition}`).get(),
  )
  const left = context
    .statement(
      `SELECT (SELECT COUNT(*) FROM ${names.rooms}) + (SELECT COUNT(*) FROM ${names.users}) AS left`,
    )
    .get() as { left: number }

  return (
    rows.length === 1 && staged !== null && staged === rows[0]?.stream_position && left.left === 0
  )
}

function finishRebuild(
  context: SqliteCapabilityContext,
  names: DirectoryTables,
  write: StorageWrite,
) {
  const rows = write.rows as FinishRebuildRow[]
  if (!readyToSwap(context, names, rows)) return { skipped: [...rows] }

  const copies: [string, string, string][] = [
    [names.live.entries, names.staging.entries, 'user_id, room_id, display_name, avatar_url'],
    [names.live.publicRooms, names.staging.publicRooms, 'user_id, room_id'],
    [names.live.pairs, names.staging.pairs, 'user_id, other_user_id, room_id'],
  ]
  for (const [live, staging, columns] of copies) {
    context.statement(`DELETE FROM ${live}`).run()
    context.statement(`INSERT INTO ${live} (${columns}) SELECT ${columns} FROM ${staging}`).run()
  }
  context
    .statement(
      `INSERT INTO ${names.position} (lock, stream_id) VALUES ('X', ?)
       ON CONFLICT (lock) DO UPDATE SET stream_id = excluded.stream_id`,
    )
    .run(rows[0]?.stream_position)
  clearStaging(context, names)

  return { skipped: [] }
}

function snapshot(context: SqliteCapabilityContext, names: DirectoryTables): DirectorySnapshot {
  const live = names.live
  const all = (sql: string) => context.statement(sql).all()

  return {
    user_directory: all(
      `SELECT user_id, display_name, avatar_url FROM ${live.entries} ORDER BY user_id`,
    ) as DirectoryEntryRow[],
    users_in_public_rooms: all(
      `SELECT user_id, room_id FROM ${live.publicRooms} ORDER BY user_id, room_id`,
    ) as DirectorySnapshot['users_in_public_rooms'],
    users_who_share_private_rooms: all(
      `SELECT user_id, other_user_id, room_id FROM ${live.pairs} ORDER BY user_id, other_user_id, room_id`,
    ) as DirectorySnapshot['users_who_share_private_rooms'],
    stream_position: positionOrNull(
      context.statement(`SELECT stream_id FROM ${names.position}`).get(),
    ),
  }
}

/** The `user_directory` capability over the directory tables, their staging copies and positions. */
export const sqliteUserDirectoryCapability: SqliteCapabilityModule<SqliteUserDirectoryInstance> = {
  name: USER_DIRECTORY_CAPABILITY,
  install(context) {
    const names = tables(context)
    return {
      reader: userDirectoryReader(context),
      operations: {
        [USER_DIRECTORY_OPS.beginRebuild]: (write) => beginRebuild(context, names, write),
        [USER_DIRECTORY_OPS.stageRooms]: (write) => stageRooms(context, names, write),
        [USER_DIRECTORY_OPS.stageUsers]: (write) => stageUsers(context, names, write),
        [USER_DIRECTORY_OPS.finishRebuild]: (write) => finishRebuild(context, names, write),
      },
      async snapshot() {
        await context.open()
        return snapshot(context, names)
      },
    }
  },
}
