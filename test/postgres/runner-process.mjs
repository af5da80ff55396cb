// One homeserver process of the multi-process tests: a runner on the shared PostgreSQL database,
// with the admin API, driven by the parent over IPC. It imports the BUILT package (`npm test`
// builds first). The job `mark_items` records every item it processes in `mp_ledger`, in the batch
// transaction, with the process's owner name, so the parent can see who committed what, and when.
import { setTimeout as sleep } from 'node:timers/promises'
import { BackgroundUpdateRunner, createAdminApi } from 'matrix-background-updates'
import {
  builtInPostgresCapabilities,
  PostgresStorageAdapter,
} from 'matrix-background-updates/postgres'

const settings = JSON.parse(process.argv[2])
const { owner } = settings

/** Reads the items to process and records processed ones, inside the batch transaction. */
const ledger = {
  name: 'ledger',
  install(context) {
    return {
      reader: {
        async page(after, limit) {
          const sql = 'SELECT id FROM mp_items WHERE id > $1 ORDER BY id LIMIT $2'
          return (await context.query(sql, [after, limit])).map((row) => row.id)
        },
      },
      operations: {
        async record(write, client) {
          await client.query(
            'INSERT INTO mp_ledger (item_id, owner) SELECT * FROM unnest($1::int[], $2::text[])',
            [write.rows.map((row) => row.item_id), write.rows.map((row) => row.owner)],
          )
          return { skipped: [] }
        },
      },
    }
  },
}

const markItems = {
  name: 'mark_items',
  startable: true,
  validate: () => ({}),
  updates: [
    {
      name: 'mark_items',
      capabilities: ['ledger'],
      initialProgress: () => ({ after: 0 }),
      async handler({ progress, storage }) {
        await sleep(settings.batchDelayMs)
        const ids = await storage.reader('ledger').page(progress.after, settings.pageSize)
        if (ids.length === 0) return { items: 0, done: true }

        const rows = ids.map((id) => ({ item_id: id, owner }))
        return {
          items: ids.length,
          writes: [{ capability: 'ledger', op: 'record', rows }],
          progress: { after: ids.at(-1) },
        }
      },
    },
  ],
}

/** The details of a log line as text, with an error's name, code and message. */
function describe(details) {
  return JSON.stringify(details, (_key, value) =>
    value instanceof Error ? { name: value.name, code: value.code, message: value.message } : value,
  )
}

/** Forwards the runner's log lines to the parent, which looks for lease changes. */
const logger = Object.fromEntries(
  ['debug', 'info', 'warn', 'error'].map((level) => [
    level,
    (details, message) => process.send?.({ log: { level, message, details: describe(details) } }),
  ]),
)

const storage = new PostgresStorageAdapter({
  connectionString: settings.connectionString,
  capabilities: [...builtInPostgresCapabilities, ledger],
  idleInTransactionTimeoutMs: settings.leaseDurationMs,
})
const runner = new BackgroundUpdateRunner({
  storage,
  logger,
  leaseOwner: owner,
  leaseDurationMs: settings.leaseDurationMs,
  pollIntervalMs: settings.pollIntervalMs,
  sleepEnabled: false,
})
runner.registerJob(markItems)
const api = createAdminApi({ runners: runner, authorize: async () => {} })

/** Sends a request to this process's admin API, as an operator's HTTP client would. */
async function admin({ method, path, body }) {
  const request = new Request(`http://homeserver/_synapse/admin/v1/background_updates/${path}`, {
    method,
    headers: { authorization: 'Bearer admin-token', 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const response = await api.fetch(request)
  return { status: response.status, body: await response.json() }
}

const commands = {
  admin,
  status: () => runner.status(),
  async stop() {
    await runner.stop()
    await storage.close()
    return true
  },
}

process.on('message', async (message) => {
  try {
    const result = await commands[message.command](message.argument)
    process.send({ id: message.id, result })
  } catch (error) {
    process.send({ id: message.id, error: String(error?.stack ?? error) })
  }
})

await storage.migrate()
runner.start()
process.send({ ready: true })
