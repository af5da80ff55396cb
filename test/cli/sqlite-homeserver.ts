/** A homeserver database in a SQLite file, with events signed by an old key, for `resign`. */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  type Ed25519SigningKey,
  encodeVerifyKeyBase64,
  generateSigningKey,
  writeSigningKeys,
} from 'matrix-background-updates'
import { SqliteHomeserver, SqliteStorageAdapter } from 'matrix-background-updates/sqlite'
import { type DataSetSummary, generateDataSet } from 'matrix-background-updates/testing'

export const SERVER_NAME = 'cli.example'

/** The database file, the key files, and what the generator made. */
export interface HomeserverFiles {
  readonly database: string
  /** The new key file: the new key only, as after a rotation. */
  readonly keyFile: string
  readonly oldKey: Ed25519SigningKey
  readonly newKey: Ed25519SigningKey
  /** The old key in the old_key format. */
  readonly oldKeyText: string
  readonly summary: DataSetSummary
  /** Opens the database in this process, for checks; close it after. */
  open(): SqliteStorageAdapter
}

/** Writes the database and the key files into `folder`. */
export async function createHomeserverFiles(
  folder: string,
  messages = 300,
): Promise<HomeserverFiles> {
  const database = join(folder, 'homeserver.db')
  const keyFile = join(folder, 'signing.key')
  const oldKey = generateSigningKey('old')
  const newKey = generateSigningKey('new')
  await writeFile(keyFile, writeSigningKeys([newKey]), { mode: 0o600 })

  const adapter = new SqliteStorageAdapter({ database })
  await adapter.migrate()
  const summary = await generateDataSet(new SqliteHomeserver(adapter), {
    serverName: SERVER_NAME,
    rooms: 12,
    messages,
    oldKey,
  })
  await adapter.close()

  return {
    database,
    keyFile,
    oldKey,
    newKey,
    oldKeyText: `${oldKey.keyId} ${encodeVerifyKeyBase64(oldKey.verifyKey)}`,
    summary,
    open: () => new SqliteStorageAdapter({ database }),
  }
}

/** The parts of a stored event the checks read. */
export interface StoredEventJson {
  readonly signatures?: Record<string, Record<string, string>>
  readonly [key: string]: unknown
}

/** Every event our server sent, parsed, with its room version. */
export async function ownEvents(adapter: SqliteStorageAdapter) {
  const query = { serverName: SERVER_NAME, after: -(2 ** 31), beforeTs: null, limit: 1_000_000 }
  const rows = await adapter.reader('events').pageOwnEvents(query)
  return rows.map((row) => ({ row, event: JSON.parse(row.json) as StoredEventJson }))
}
