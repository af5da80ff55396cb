// Builds a reproducible data set into a SQLite file with the reference schema, for demos and
// benchmarks. Uses the built package: run `npm run build` first.
//
//   node scripts/generate-data.mjs homeserver.db --seed 7 --messages 10000 [--malformed]
//   node scripts/generate-data.mjs --help
import { parseArgs } from 'node:util'

const usage = `Usage: node scripts/generate-data.mjs <file.db> [options]

  --seed <n>          PRNG seed (default 1); the same seed gives the same data
  --server <name>     our server name (default local.example)
  --rooms <n>         rooms, over room versions 1 to 12 (default 24)
  --local-users <n>   local users (default 20)
  --messages <n>      messages over all rooms (default 200)
  --local-share <f>   share of messages sent by local users, 0 to 1 (default 0.6)
  --malformed         add a few malformed rows
  --prefix <p>        table prefix (default none)`

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    seed: { type: 'string' },
    server: { type: 'string' },
    rooms: { type: 'string' },
    'local-users': { type: 'string' },
    messages: { type: 'string' },
    'local-share': { type: 'string' },
    malformed: { type: 'boolean' },
    prefix: { type: 'string' },
    help: { type: 'boolean' },
  },
})

if (values.help || positionals.length !== 1) {
  console.log(usage)
  process.exit(values.help ? 0 : 2)
}

const number = (text) => (text === undefined ? undefined : Number(text))
const { SqliteHomeserver, SqliteStorageAdapter } = await import('../dist/sqlite.js')
const { generateDataSet } = await import('../dist/testing.js')

const storage = new SqliteStorageAdapter({
  database: positionals[0],
  tablePrefix: values.prefix ?? '',
})
await storage.migrate()
const summary = await generateDataSet(new SqliteHomeserver(storage), {
  seed: number(values.seed),
  serverName: values.server,
  rooms: number(values.rooms),
  localUsers: number(values['local-users']),
  messages: number(values.messages),
  localShare: number(values['local-share']),
  malformedRows: values.malformed ?? false,
})
await storage.close()

const { oldKey: _oldKey, rooms, localUsers, ...counts } = summary
console.log(JSON.stringify({ ...counts, rooms: rooms.length, localUsers: localUsers.length }))
