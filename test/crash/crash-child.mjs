/**
 * The child process of the crash test: runs one job (event_resign or event_resign_revert) over a
 * SQLite file or a PostgreSQL schema until it leaves the queue, and SIGKILLs itself at a fail point named in the
 * environment. The fail points are made here, by wrapping the job and the capability modules; the
 * library needs no hook for them.
 *
 * CRASH_ADAPTER sqlite | postgres
 * CRASH_DB      the SQLite file, or the PostgreSQL connection string (migrated, seeded, the job
 *               queued)
 * CRASH_SCHEMA  the PostgreSQL schema of the store
 * CRASH_KEYS    JSON [oldSeedBase64, newSeedBase64]
 * CRASH_JOB     event_resign | event_resign_revert
 * CRASH_POINT   mid-apply | before-commit | after-commit | after-final-commit (optional)
 * CRASH_AT      kill at this occurrence of the point, from 1 (default 1)
 */
import {
  BackgroundUpdateRunner,
  decodeSigningKeyBase64,
  eventResignJob,
  eventResignRevertJob,
  MemoryKeyProvider,
} from 'matrix-background-updates'
import {
  builtInPostgresCapabilities,
  PostgresStorageAdapter,
} from 'matrix-background-updates/postgres'
import { builtInSqliteCapabilities, SqliteStorageAdapter } from 'matrix-background-updates/sqlite'

const SERVER = 'crash.example'
const postgres = process.env.CRASH_ADAPTER === 'postgres'
const point = process.env.CRASH_POINT ?? ''
const killAt = Number(process.env.CRASH_AT ?? '1')
let seen = 0

/** Dies at once, as a power cut of the process would: nothing after this line runs. */
function die() {
  process.kill(process.pid, 'SIGKILL')
  for (;;) {}
}

function reached(name) {
  if (name === point && ++seen === killAt) die()
}

/**
 * The built-in modules, the event write applying half its rows before the mid-apply point. The
 * SQLite operations are synchronous, the PostgreSQL ones take the transaction's client and
 * resolve; either way the half is written inside the batch's transaction when the child dies.
 */
function modules() {
  const builtIn = postgres ? builtInPostgresCapabilities : builtInSqliteCapabilities
  return builtIn.map((module) => ({
    name: module.name,
    install(context) {
      const instance = module.install(context)
      if (module.name !== 'events') return instance
      const replace = instance.operations.replace_json
      const half = (write) =>
        point === 'mid-apply' && seen + 1 === killAt && write.rows.length > 1
          ? { ...write, rows: write.rows.slice(0, Math.ceil(write.rows.length / 2)) }
          : undefined
      const halfway = postgres
        ? async (write, client) => {
            const first = half(write)
            if (first) await replace(first, client)
            if (write.rows.length > 0) reached('mid-apply')
            return replace(write, client)
          }
        : (write) => {
            const first = half(write)
            if (first) replace(first)
            if (write.rows.length > 0) reached('mid-apply')
            return replace(write)
          }
      return { ...instance, operations: { ...instance.operations, replace_json: halfway } }
    },
  }))
}

/** The job with its results wrapped: inside the transaction before commit, and after it. */
function withFailPoints(job) {
  const [update] = job.updates
  const handler = async (context) => {
    const result = await update.handler(context)
    const { progress, outcomes } = result
    const wrappedProgress =
      typeof progress === 'function'
        ? (report) => {
            const next = progress(report)
            reached('before-commit')
            return next
          }
        : progress
    const wrappedOutcomes = (report) => {
      reached(result.done ? 'after-final-commit' : 'after-commit')
      return typeof outcomes === 'function' ? outcomes(report) : (outcomes ?? {})
    }
    return { ...result, progress: wrappedProgress, outcomes: wrappedOutcomes }
  }
  return { ...job, updates: [{ ...update, handler }] }
}

function keyProvider() {
  const [oldSeed, newSeed] = JSON.parse(process.env.CRASH_KEYS)
  const provider = new MemoryKeyProvider(decodeSigningKeyBase64('ed25519', 'old', oldSeed))
  provider.rotate(decodeSigningKeyBase64('ed25519', 'new', newSeed), 1_700_000_000_000)
  return provider
}

async function main() {
  const storage = postgres
    ? new PostgresStorageAdapter({
        connectionString: process.env.CRASH_DB,
        schema: process.env.CRASH_SCHEMA,
        maxConnections: 2,
        capabilities: modules(),
      })
    : new SqliteStorageAdapter({
        database: process.env.CRASH_DB,
        tablePrefix: 'mbu_',
        capabilities: modules(),
      })
  const runner = new BackgroundUpdateRunner({
    storage,
    sleepEnabled: false,
    defaultBatchSize: 20,
    targetDurationMs: 20,
    leaseDurationMs: 1000,
    pollIntervalMs: 100,
  })
  const options = { serverName: SERVER, keyProvider: keyProvider() }
  const name = process.env.CRASH_JOB
  const job = name === 'event_resign' ? eventResignJob(options) : eventResignRevertJob(options)
  runner.registerJob(withFailPoints(job))
  runner.on('runner:aborted', ({ error }) => {
    process.stderr.write(`aborted: ${error?.stack ?? error}\n`)
    process.exit(3)
  })

  // Tells the parent a batch committed, so a random kill lands in the middle of the work and
  // every killed child has moved the job on.
  runner.on('update:batch', () => process.stdout.write('batch\n'))

  runner.start()
  await runner.whenCompleted(name)
  await runner.stop()
  await storage.close()
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`${error?.stack ?? error}\n`)
    process.exit(2)
  },
)
