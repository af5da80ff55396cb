// The demo's homeserver: a SQLite database with the reference schema, filled with rooms, users and
// events signed with an old key, and a small node:http server with the admin API behind a token.
import { createServer } from 'node:http'
import { join } from 'node:path'
import {
  BackgroundUpdateRunner,
  createAdminApi,
  eventResignJob,
  MemoryKeyProvider,
  populateStatsJob,
  regenerateDirectoryJob,
  resignEvent,
  UnknownTokenError,
} from 'matrix-background-updates'
import { SqliteHomeserver, SqliteStorageAdapter } from 'matrix-background-updates/sqlite'
import { generateDataSet } from 'matrix-background-updates/testing'

/** Our server name. */
export const SERVER_NAME = 'demo.example'

/** The only access token the demo's admin API lets in. */
export const ADMIN_TOKEN = 'demo-admin-token'

/** Rooms over every room version, 1 to 12, so 1, 4, 10, 11 and 12 among them. */
const DATA_SET = {
  seed: 2026,
  serverName: SERVER_NAME,
  rooms: 24,
  localUsers: 25,
  remoteServers: 2,
  remoteUsersPerServer: 6,
  messages: 4000,
  localShare: 0.6,
  redactedShare: 0.05,
  malformedRows: true,
}

/**
 * Creates the database in `folder`: the schema, then the data set with local events signed by
 * `oldKey` and each remote server's events signed by a key of its own.
 */
export async function createDatabase(folder, { oldKey, remoteKeys }) {
  const file = join(folder, 'homeserver.db')
  const storage = new SqliteStorageAdapter({ database: file })
  await storage.migrate()
  const homeserver = new SqliteHomeserver(storage)
  const summary = await generateDataSet(homeserver, { ...DATA_SET, oldKey })
  const remoteSigned = await signRemoteEvents(storage, homeserver, remoteKeys)
  return { file, storage, homeserver, summary, remoteSigned }
}

/** The server name of a user ID: everything after its first colon. */
export function serverOf(userId) {
  return userId.slice(userId.indexOf(':') + 1)
}

/** Every stored event: its ID, sender, room version and JSON text, by stream ordering. */
export async function readAllEvents(storage) {
  const database = await storage.database()
  return database
    .prepare(
      `SELECT e.event_id, e.sender, r.room_version, j.json
         FROM events e JOIN event_json j ON j.event_id = e.event_id
         LEFT JOIN rooms r ON r.room_id = e.room_id
        ORDER BY e.stream_ordering`,
    )
    .all()
}

/** Signs each remote server's events with that server's own key, as they would reach us. */
async function signRemoteEvents(storage, homeserver, remoteKeys) {
  let signed = 0
  for (const row of await readAllEvents(storage)) {
    const server = serverOf(row.sender)
    if (server === SERVER_NAME) continue

    const signingKey = remoteKeys.get(server)
    if (!signingKey) throw new Error(`the demo has no key for the remote server ${server}`)
    const event = JSON.parse(row.json)
    const options = { roomVersion: row.room_version, serverName: server, signingKey }
    await homeserver.writeStoredJson(
      row.event_id,
      JSON.stringify(await resignEvent(event, options)),
    )
    signed += 1
  }
  return signed
}

/**
 * Starts the homeserver's runner and its admin API on 127.0.0.1 and a free port. Batches are kept
 * small and paced so a person can watch the progress; `outcomes` adds up what the jobs report.
 */
export async function startHomeserver(storage, oldKey) {
  const keyProvider = new MemoryKeyProvider(oldKey)
  const runner = new BackgroundUpdateRunner({
    storage,
    targetDurationMs: 10,
    sleepDurationMs: 40,
    defaultBatchSize: 50,
  })
  runner.registerJob(eventResignJob({ serverName: SERVER_NAME, keyProvider }))
  runner.registerJob(populateStatsJob({ serverName: SERVER_NAME }))
  runner.registerJob(regenerateDirectoryJob({ serverName: SERVER_NAME }))

  const outcomes = {}
  runner.on('update:batch', (batch) => addOutcomes(outcomes, batch.name, batch.outcomes))
  const api = createAdminApi({ runners: [runner], authorize: requireDemoToken })
  const server = createServer((req, res) => void api.node(req, res))
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  runner.start()

  return {
    url: `http://127.0.0.1:${server.address().port}`,
    keyProvider,
    outcomes,
    async stop() {
      await runner.stop()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

async function requireDemoToken({ accessToken }) {
  if (accessToken !== ADMIN_TOKEN) throw new UnknownTokenError()
}

function addOutcomes(total, updateName, batch) {
  total[updateName] ??= {}
  const counts = total[updateName]
  for (const [kind, count] of Object.entries(batch)) counts[kind] = (counts[kind] ?? 0) + count
}
