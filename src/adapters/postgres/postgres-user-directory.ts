import {
  type BeginRebuildRow,
  type DirectoryEntryRow,
  type DirectorySnapshot,
  type FinishRebuildRow,
  type LocalProfileRow,
  type PrivateRoomPairRow,
  type PublicRoomUserRow,
  type StagedRoom,
  type StagedRoomRow,
  type StagedUserRow,
  type StorageWrite,
  USER_DIRECTORY_CAPABILITY,
  USER_DIRECTORY_OPS,
  type UserDirectoryReader,
} from 'matrix-background-updates'
import type {
  PostgresCapabilityContext,
  PostgresCapabilityInstance,
  PostgresCapabilityModule,
} from './postgres-capability.js'
import { type PostgresQueryable, queryRows } from './postgres-driver.js'
import { column, lastByKey, safeInteger, safeIntegerOrNull } from './postgres-rows.js'

/** The `user_directory` capability's instance: its reader, its writes and a snapshot for checks. */
export interface PostgresUserDirectoryInstance
  extends PostgresCapabilityInstance<UserDirectoryReader> {
  /** The whole live directory, sorted by its keys (code point order). */
  snapshot(): Promise<DirectorySnapshot>
}

/** The names of the live tables, their staging copies and the rebuild's bookkeeping. */
function tables(context: PostgresCapabilityContext) {
  const t = (name: string) => context.table(name)
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

function position(rows: readonly { stream_id: unknown }[], table: string): number | null {
  return safeIntegerOrNull(rows[0]?.stream_id, table, 'stream_id')
}

/** A one-row position table's `stream_id`, read on the pool. */
async function readPosition(
  context: PostgresCapabilityContext,
  table: string,
  signal?: AbortSignal,
): Promise<number | null> {
  return position(await context.query(`SELECT stream_id FROM ${table}`, [], signal), table)
}

/** The same, read inside the batch transaction. */
async function positionIn(client: PostgresQueryable, table: string): Promise<number | null> {
  return position(await queryRows(client, `SELECT stream_id FROM ${table}`), table)
}

function userDirectoryReader(context: PostgresCapabilityContext): UserDirectoryReader {
  const names = tables(context)
  const deltas = context.table('current_state_delta_stream')
  const roomsSql = `SELECT room_id, events FROM ${names.rooms}
    ORDER BY events DESC, room_id COLLATE "C" LIMIT $1`
  const usersSql = `SELECT user_id FROM ${names.users} ORDER BY user_id COLLATE "C" LIMIT $1`
  const profilesSql = `SELECT full_user_id AS user_id, displayname, avatar_url
    FROM ${context.table('profiles')} WHERE full_user_id = ANY($1::text[])`

  return {
    currentStreamPosition: async (signal) => {
      const sql = `SELECT COALESCE(MAX(stream_id), 0) AS stream_id FROM ${deltas}`
      return position(await context.query(sql, [], signal), deltas) ?? 0
    },
    stagedPosition: (signal) => readPosition(context, names.stagedPosition, signal),
    streamPosition: (signal) => readPosition(context, names.position, signal),
    stagedRooms: async (limit, signal) => {
      const rows = await context.query<{ room_id: string; events: unknown }>(
        roomsSql,
        [limit],
        signal,
      )
      return rows.map(
        (row): StagedRoom => ({
          room_id: row.room_id,
          events: safeInteger(row.events, names.rooms, `events of ${row.room_id}`),
        }),
      )
    },
    stagedUserIds: async (limit, signal) =>
      column(await context.query<{ user_id: string }>(usersSql, [limit], signal), 'user_id'),
    profiles: async (userIds, signal) => {
      const ids = [...new Set(userIds)]
      return ids.length === 0 ? [] : context.query<LocalProfileRow>(profilesSql, [ids], signal)
    },
  }
}

async function clearStaging(client: PostgresQueryable, names: DirectoryTables): Promise<void> {
  // DELETE rather than TRUNCATE: readers with an older snapshot keep seeing consistent tables.
  const staged = [...Object.values(names.staging), names.rooms, names.users, names.stagedPosition]
  for (const table of staged) await client.query(`DELETE FROM ${table}`)
}

async function beginRebuild(
  context: PostgresCapabilityContext,
  names: DirectoryTables,
  write: StorageWrite,
  client: PostgresQueryable,
) {
  const [row] = write.rows as BeginRebuildRow[]
  if (write.rows.length !== 1 || !Number.isSafeInteger(row?.stream_position)) {
    throw new TypeError('begin_rebuild takes exactly one row with a safe integer stream_position')
  }

  await clearStaging(client, names)
  await client.query(
    `INSERT INTO ${names.rooms} (room_id, events)
     SELECT room_id, COUNT(*) FROM ${context.table('current_state_events')} GROUP BY room_id`,
  )
  await client.query(
    `INSERT INTO ${names.users} (user_id) SELECT name FROM ${context.table('users')}`,
  )
  await client.query(`INSERT INTO ${names.stagedPosition} (lock, stream_id) VALUES ('X', $1)`, [
    row?.stream_position,
  ])

  return { skipped: [] }
}

async function isStaged(client: PostgresQueryable, names: DirectoryTables): Promise<boolean> {
  return (await positionIn(client, names.stagedPosition)) !== null
}

/** One upsert for every entry; a user given twice keeps the last entry, as a loop would. */
async function putEntries(
  client: PostgresQueryable,
  table: string,
  entries: readonly DirectoryEntryRow[],
): Promise<void> {
  const rows = lastByKey(entries, (entry) => entry.user_id)
  if (rows.length === 0) return

  await client.query(
    `INSERT INTO ${table} (user_id, room_id, display_name, avatar_url)
     SELECT r.user_id, NULL, r.display_name, r.avatar_url
     FROM unnest($1::text[], $2::text[], $3::text[]) AS r(user_id, display_name, avatar_url)
     ON CONFLICT (user_id) DO UPDATE
     SET display_name = excluded.display_name, avatar_url = excluded.avatar_url`,
    [column(rows, 'user_id'), column(rows, 'display_name'), column(rows, 'avatar_url')],
  )
}

async function putPublic(client: PostgresQueryable, table: string, rows: PublicRoomUserRow[]) {
  if (rows.length === 0) return
  await client.query(
    `INSERT INTO ${table} (user_id, room_id) SELECT * FROM unnest($1::text[], $2::text[])
     ON CONFLICT DO NOTHING`,
    [column(rows, 'user_id'), column(rows, 'room_id')],
  )
}

async function putPairs(client: PostgresQueryable, table: string, rows: PrivateRoomPairRow[]) {
  if (rows.length === 0) return
  await client.query(
    `INSERT INTO ${table} (user_id, other_user_id, room_id)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING`,
    [column(rows, 'user_id'), column(rows, 'other_user_id'), column(rows, 'room_id')],
  )
}

async function stageRooms(names: DirectoryTables, write: StorageWrite, client: PostgresQueryable) {
  if (!(await isStaged(client, names))) return { skipped: [...write.rows] }

  const rows = write.rows as StagedRoomRow[]
  await putPublic(
    client,
    names.staging.publicRooms,
    rows.flatMap((row) => row.users_in_public_rooms),
  )
  await putPairs(
    client,
    names.staging.pairs,
    rows.flatMap((row) => row.users_who_share_private_rooms),
  )
  await putEntries(
    client,
    names.staging.entries,
    rows.flatMap((row) => row.user_directory),
  )
  await client.query(`DELETE FROM ${names.rooms} WHERE room_id = ANY($1::text[])`, [
    column(rows, 'room_id'),
  ])

  return { skipped: [] }
}

async function stageUsers(names: DirectoryTables, write: StorageWrite, client: PostgresQueryable) {
  if (!(await isStaged(client, names))) return { skipped: [...write.rows] }

  const rows = write.rows as StagedUserRow[]
  const entries = rows.flatMap((row) => (row.entry === null ? [] : [row.entry]))
  await putEntries(client, names.staging.entries, entries)
  await client.query(`DELETE FROM ${names.users} WHERE user_id = ANY($1::text[])`, [
    column(rows, 'user_id'),
  ])

  return { skipped: [] }
}

async function readyToSwap(
  client: PostgresQueryable,
  names: DirectoryTables,
  rows: readonly FinishRebuildRow[],
): Promise<boolean> {
  const staged = await positionIn(client, names.stagedPosition)
  const [left] = await queryRows<{ left: boolean }>(
    client,
    `SELECT EXISTS (SELECT 1 FROM ${names.rooms}) OR EXISTS (SELECT 1 FROM ${names.users}) AS left`,
  )

  return rows.length === 1 && staged !== null && staged === rows[0]?.stream_position && !left?.left
}

async function finishRebuild(
  names: DirectoryTables,
  write: StorageWrite,
  client: PostgresQueryable,
) {
  const rows = write.rows as FinishRebuildRow[]
  if (!(await readyToSwap(client, names, rows))) return { skipped: [...rows] }

  const copies: [string, string, string][] = [
    [names.live.entries, names.staging.entries, 'user_id, room_id, display_name, avatar_url'],
    [names.live.publicRooms, names.staging.publicRooms, 'user_id, room_id'],
    [names.live.pairs, names.staging.pairs, 'user_id, other_user_id, room_id'],
  ]
  for (const [live, staging, columns] of copies) {
    await client.query(`DELETE FROM ${live}`)
    await client.query(`INSERT INTO ${live} (${columns}) SELECT ${columns} FROM ${staging}`)
  }
  await client.query(
    `INSERT INTO ${names.position} (lock, stream_id) VALUES ('X', $1)
     ON CONFLICT (lock) DO UPDATE SET stream_id = excluded.stream_id`,
    [rows[0]?.stream_position],
  )
  await clearStaging(client, names)

  return { skipped: [] }
}

async function snapshot(
  context: PostgresCapabilityContext,
  names: DirectoryTables,
): Promise<DirectorySnapshot> {
  const live = names.live
  const c = (name: string) => `${name} COLLATE "C"`

  return {
    user_directory: await context.query<DirectoryEntryRow>(
      `SELECT user_id, display_name, avatar_url FROM ${live.entries} ORDER BY ${c('user_id')}`,
    ),
    users_in_public_rooms: await context.query<PublicRoomUserRow>(
      `SELECT user_id, room_id FROM ${live.publicRooms} ORDER BY ${c('user_id')}, ${c('room_id')}`,
    ),
    users_who_share_private_rooms: await context.query<PrivateRoomPairRow>(
      `SELECT user_id, other_user_id, room_id FROM ${live.pairs}
       ORDER BY ${c('user_id')}, ${c('other_user_id')}, ${c('room_id')}`,
    ),
    stream_position: await readPosition(context, names.position),
  }
}

/** The `user_directory` capability over the directory tables, their staging copies and positions. */
export const postgresUserDirectoryCapability: PostgresCapabilityModule<PostgresUserDirectoryInstance> =
  {
    name: USER_DIRECTORY_CAPABILITY,
    install(context) {
      const names = tables(context)
      return {
        reader: userDirectoryReader(context),
        operations: {
          [USER_DIRECTORY_OPS.beginRebuild]: (write, client) =>
            beginRebuild(context, names, write, client),
          [USER_DIRECTORY_OPS.stageRooms]: (write, client) => stageRooms(names, write, client),
          [USER_DIRECTORY_OPS.stageUsers]: (write, client) => stageUsers(names, write, client),
          [USER_DIRECTORY_OPS.finishRebuild]: (write, client) =>
            finishRebuild(names, write, client),
        },
        snapshot: () => snapshot(context, names),
      }
    },
  }
