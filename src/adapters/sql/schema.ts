/**
 * The reference schema, described once and written out as DDL for each SQL dialect. Table and column
 * names follow Synapse's, so a host whose database shares that layout can adopt the SQL adapters;
 * docs/schema.md explains every table. Nothing here touches a database.
 *
 * @module
 */

/** The SQL dialects the reference schema is written for. */
export type SqlDialect = 'sqlite' | 'postgres'

/** A column's portable type: each dialect maps it to its own. */
export type ColumnType = 'text' | 'bigint' | 'integer' | 'boolean'

/** One column of a table. */
export interface ColumnDefinition {
  /** The column's name, as in Synapse where Synapse has the column. */
  readonly name: string
  /** Its portable type. */
  readonly type: ColumnType
  /** Whether NULL is allowed. Default false. */
  readonly nullable?: boolean
  /** A literal default value. */
  readonly default?: string | number | boolean
}

/** One table: its columns, its keys and its indexes, without the host's table prefix. */
export interface TableDefinition {
  /** The table's name without the prefix. */
  readonly name: string
  /** Its columns, in order. */
  readonly columns: readonly ColumnDefinition[]
  /** The columns of the primary key, if any. */
  readonly primaryKey?: readonly string[]
  /** Sets of columns that are unique together. */
  readonly unique?: readonly (readonly string[])[]
  /** Sets of columns indexed together; each index is named `<table>_<columns>_idx`. */
  readonly indexes?: readonly (readonly string[])[]
  /** Rows inserted when the table is created, column name to literal value. */
  readonly initialRows?: readonly Readonly<Record<string, string | number | boolean | null>>[]
}

/** One version of the schema: the tables it adds. */
export interface SchemaMigration {
  /** The version it brings the schema to: 1, 2, … */
  readonly version: number
  /** The tables it creates. */
  readonly tables: readonly TableDefinition[]
}

const text = (name: string, nullable = false): ColumnDefinition => ({
  name,
  type: 'text',
  nullable,
})
const bigint = (name: string, nullable = false): ColumnDefinition => ({
  name,
  type: 'bigint',
  nullable,
})
const integer = (name: string, defaultValue?: number): ColumnDefinition => ({
  name,
  type: 'integer',
  ...(defaultValue === undefined ? {} : { default: defaultValue }),
})
const flag = (name: string, defaultValue: boolean): ColumnDefinition => ({
  name,
  type: 'boolean',
  default: defaultValue,
})
const lock: ColumnDefinition = { name: 'lock', type: 'text', default: 'X' }

/** The queue, the lease and the state shared by the runners of one database. */
const runnerTables: readonly TableDefinition[] = [
  {
    name: 'background_updates',
    columns: [
      text('update_name'),
      text('progress_json'),
      text('depends_on', true),
      integer('ordering', 0),
    ],
    unique: [['update_name']],
  },
  {
    name: 'background_update_lease',
    columns: [lock, text('owner', true), bigint('fence'), bigint('expires_ts')],
    unique: [['lock']],
    initialRows: [{ lock: 'X', owner: null, fence: 0, expires_ts: 0 }],
  },
  {
    name: 'background_update_runner_state',
    columns: [lock, flag('enabled', true), text('status_json', true)],
    unique: [['lock']],
    initialRows: [{ lock: 'X', enabled: true, status_json: null }],
  },
]

/** Rooms, events and current state: what the jobs read. */
const eventTables: readonly TableDefinition[] = [
  {
    name: 'rooms',
    columns: [text('room_id'), text('room_version', true), text('creator', true)],
    primaryKey: ['room_id'],
  },
  {
    name: 'events',
    columns: [
      bigint('stream_ordering'),
      text('event_id'),
      text('room_id'),
      text('type'),
      text('state_key', true),
      text('sender'),
      bigint('origin_server_ts', true),
      bigint('received_ts', true),
      text('rejection_reason', true),
    ],
    primaryKey: ['stream_ordering'],
    unique: [['event_id']],
    indexes: [['room_id', 'stream_ordering'], ['received_ts']],
  },
  {
    name: 'event_json',
    columns: [
      text('event_id'),
      text('room_id'),
      text('internal_metadata', true),
      text('json'),
      integer('format_version', 1),
    ],
    primaryKey: ['event_id'],
  },
  {
    name: 'current_state_events',
    columns: [
      text('event_id'),
      text('room_id'),
      text('type'),
      text('state_key'),
      text('membership', true),
      bigint('event_stream_ordering', true),
    ],
    unique: [['event_id'], ['room_id', 'type', 'state_key']],
  },
  {
    name: 'current_state_delta_stream',
    columns: [
      bigint('stream_id'),
      text('room_id'),
      text('type'),
      text('state_key'),
      text('event_id', true),
      text('prev_event_id', true),
    ],
    indexes: [['stream_id']],
  },
  {
    name: 'room_memberships',
    columns: [
      text('event_id'),
      text('user_id'),
      text('sender'),
      text('room_id'),
      text('membership'),
      text('display_name', true),
      text('avatar_url', true),
      bigint('event_stream_ordering', true),
    ],
    unique: [['event_id']],
    indexes: [['room_id', 'user_id']],
  },
]

/** Local users and their global profiles. */
const userTables: readonly TableDefinition[] = [
  {
    name: 'users',
    columns: [
      text('name'),
      bigint('creation_ts', true),
      flag('admin', false),
      flag('is_guest', false),
      text('appservice_id', true),
      text('user_type', true),
      flag('deactivated', false),
      flag('shadow_banned', false),
    ],
    primaryKey: ['name'],
  },
  {
    name: 'profiles',
    columns: [
      text('full_user_id'),
      text('user_id'),
      text('displayname', true),
      text('avatar_url', true),
    ],
    primaryKey: ['full_user_id'],
  },
]

const statsCurrentColumns = [
  text('room_id'),
  bigint('current_state_events'),
  bigint('joined_members'),
  bigint('invited_members'),
  bigint('left_members'),
  bigint('banned_members'),
  bigint('knocked_members'),
  bigint('local_users_in_room'),
  bigint('completed_delta_stream_id'),
]

const statsStateColumns = [
  text('room_id'),
  text('name', true),
  text('canonical_alias', true),
  text('join_rules', true),
  text('history_visibility', true),
  text('encryption', true),
  text('avatar', true),
  text('guest_access', true),
  flag('is_federatable', true),
  text('topic', true),
  text('room_type', true),
]

/** Room stats, as `populate_stats_process_rooms` writes them. */
const statsTables: readonly TableDefinition[] = [
  { name: 'room_stats_current', columns: statsCurrentColumns, unique: [['room_id']] },
  { name: 'room_stats_state', columns: statsStateColumns, unique: [['room_id']] },
]

const entryColumns = [
  text('user_id'),
  text('room_id', true),
  text('display_name', true),
  text('avatar_url', true),
]
const pairColumns = [text('user_id'), text('other_user_id'), text('room_id')]
const publicColumns = [text('user_id'), text('room_id')]

/** The live user directory, its staging copy and the rebuild's bookkeeping. */
const directoryTables: readonly TableDefinition[] = [
  { name: 'user_directory', columns: entryColumns, unique: [['user_id']] },
  { name: 'users_in_public_rooms', columns: publicColumns, unique: [['user_id', 'room_id']] },
  {
    name: 'users_who_share_private_rooms',
    columns: pairColumns,
    unique: [['user_id', 'other_user_id', 'room_id']],
    indexes: [['other_user_id'], ['room_id']],
  },
  {
    name: 'user_directory_stream_pos',
    columns: [lock, bigint('stream_id', true)],
    unique: [['lock']],
    initialRows: [{ lock: 'X', stream_id: null }],
  },
  { name: 'user_directory_staging', columns: entryColumns, unique: [['user_id']] },
  {
    name: 'users_in_public_rooms_staging',
    columns: publicColumns,
    unique: [['user_id', 'room_id']],
  },
  {
    name: 'users_who_share_private_rooms_staging',
    columns: pairColumns,
    unique: [['user_id', 'other_user_id', 'room_id']],
  },
  {
    name: 'user_directory_rebuild_rooms',
    columns: [text('room_id'), bigint('events')],
    primaryKey: ['room_id'],
    indexes: [['events', 'room_id']],
  },
  { name: 'user_directory_rebuild_users', columns: [text('user_id')], primaryKey: ['user_id'] },
  {
    name: 'user_directory_rebuild_position',
    columns: [lock, bigint('stream_id')],
    unique: [['lock']],
  },
]

/** The undo log of signatures removed by `event_resign`. */
const undoTables: readonly TableDefinition[] = [
  {
    name: 'event_resign_undo_log',
    columns: [
      bigint('id'),
      text('event_id'),
      text('server_name'),
      text('removed_signatures_json'),
      text('added_key_id'),
    ],
    primaryKey: ['id'],
    indexes: [['event_id']],
  },
]

/** Every version of the reference schema, oldest first. */
export const schemaMigrations: readonly SchemaMigration[] = [
  {
    version: 1,
    tables: [
      ...runnerTables,
      ...eventTables,
      ...userTables,
      ...statsTables,
      ...directoryTables,
      ...undoTables,
    ],
  },
]

/** The newest version of the reference schema. */
export const latestSchemaVersion = schemaMigrations.length

/** The table (unprefixed) that records which schema version a database has. */
export const schemaVersionTable = 'background_updates_schema_version'

const prefixPattern = /^[a-z_][a-z0-9_]{0,31}$/

/**
 * Checks a table prefix: up to 32 lowercase letters, digits and underscores, not starting with a
 * digit, so names need no quoting in either dialect. `''` means no prefix.
 *
 * @throws {TypeError} The prefix is not a string.
 * @throws {RangeError} The prefix has other characters or is too long.
 */
export function checkTablePrefix(prefix: unknown): string {
  if (typeof prefix !== 'string') throw new TypeError('tablePrefix must be a string')
  if (prefix !== '' && !prefixPattern.test(prefix)) {
    throw new RangeError(
      `tablePrefix must be up to 32 of [a-z0-9_], not starting with a digit, got ${JSON.stringify(prefix)}`,
    )
  }

  return prefix
}

const columnTypes: Record<SqlDialect, Record<ColumnType, string>> = {
  sqlite: { text: 'TEXT', bigint: 'BIGINT', integer: 'INTEGER', boolean: 'BOOLEAN' },
  postgres: { text: 'TEXT', bigint: 'BIGINT', integer: 'INTEGER', boolean: 'BOOLEAN' },
}

/** A literal as SQL: strings quoted, booleans as TRUE/FALSE, null as NULL. */
export function sqlLiteral(value: string | number | boolean | null): string {
  if (value === null) return 'NULL'
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE'
  if (typeof value === 'number') return String(value)

  return `'${value.replaceAll("'", "''")}'`
}

function columnDdl(column: ColumnDefinition, dialect: SqlDialect): string {
  const parts = [column.name, columnTypes[dialect][column.type]]
  if (!column.nullable) parts.push('NOT NULL')
  if (column.default !== undefined) parts.push(`DEFAULT ${sqlLiteral(column.default)}`)

  return parts.join(' ')
}

/**
 * The statements that create one table with its indexes and initial rows, idempotently
 * (`IF NOT EXISTS`, `ON CONFLICT DO NOTHING`).
 */
export function createTableStatements(
  table: TableDefinition,
  dialect: SqlDialect,
  prefix: string,
): string[] {
  const name = prefix + table.name
  const lines = table.columns.map((column) => columnDdl(column, dialect))
  if (table.primaryKey) lines.push(`PRIMARY KEY (${table.primaryKey.join(', ')})`)
  for (const columns of table.unique ?? []) lines.push(`UNIQUE (${columns.join(', ')})`)

  const statements = [`CREATE TABLE IF NOT EXISTS ${name} (\n  ${lines.join(',\n  ')}\n)`]
  for (const columns of table.indexes ?? []) {
    const index = `${name}_${columns.join('_')}_idx`
    statements.push(`CREATE INDEX IF NOT EXISTS ${index} ON ${name} (${columns.join(', ')})`)
  }
  for (const row of table.initialRows ?? []) statements.push(insertRowStatement(name, row))

  return statements
}

function insertRowStatement(
  name: string,
  row: Readonly<Record<string, string | number | boolean | null>>,
): string {
  const columns = Object.keys(row)
  const values = Object.values(row).map(sqlLiteral)

  return `INSERT INTO ${name} (${columns.join(', ')}) VALUES (${values.join(', ')}) ON CONFLICT DO NOTHING`
}

/** The statement that creates the schema version table. */
export function createVersionTableStatement(dialect: SqlDialect, prefix: string): string {
  const columns = [lock, integer('version'), bigint('upgraded_ts')]
  const lines = columns.map((column) => columnDdl(column, dialect))

  return `CREATE TABLE IF NOT EXISTS ${prefix}${schemaVersionTable} (\n  ${lines.join(',\n  ')},\n  UNIQUE (lock)\n)`
}

/** Every statement of the migrations after `fromVersion`, in order. */
export function migrationStatements(
  fromVersion: number,
  dialect: SqlDialect,
  prefix: string,
): string[] {
  return schemaMigrations
    .filter((migration) => migration.version > fromVersion)
    .flatMap((migration) =>
      migration.tables.flatMap((table) => createTableStatements(table, dialect, prefix)),
    )
}
