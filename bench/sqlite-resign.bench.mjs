// Re-signs N local events on SQLite through the runner, sleep off, and prints events/s, batches and
// the peak RSS of the process that ran the job. Each size runs in child processes of its own: one
// generates the data set into a temp file, another runs `event_resign` over it, so the peak RSS is
// the job's alone. Figures only, no targets; the issue wants RSS at the largest size within 1.2× of
// the smallest.
//
//   npm run build && node bench/sqlite-resign.bench.mjs
//   SQLITE_RESIGN_SIZES=100000,1000000 node bench/sqlite-resign.bench.mjs   (the default sizes)
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const SERVER = 'local.example'
const OLD_SEED = 'AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI'
const NEW_SEED = 'AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM'
const script = fileURLToPath(import.meta.url)

async function load() {
  const lib = await import('../dist/index.node.js')
  const { SqliteHomeserver, SqliteStorageAdapter } = await import('../dist/sqlite.js')
  const { generateDataSet } = await import('../dist/testing.js')
  return { lib, SqliteHomeserver, SqliteStorageAdapter, generateDataSet }
}

async function generate(file, size) {
  const { lib, SqliteHomeserver, SqliteStorageAdapter, generateDataSet } = await load()
  const storage = new SqliteStorageAdapter({ database: file })
  await storage.migrate()
  const database = await storage.database()
  database.pragma('synchronous = OFF')
  const started = performance.now()
  const summary = await generateDataSet(new SqliteHomeserver(storage), {
    seed: 7,
    serverName: SERVER,
    rooms: Math.max(24, Math.round(size / 2000)),
    localUsers: 200,
    messages: size,
    localShare: 1,
    chunkSize: 5000,
    oldKey: lib.decodeSigningKeyBase64('ed25519', 'old', OLD_SEED),
  })
  await storage.close()
  const seconds = (performance.now() - started) / 1000
  return { events: summary.events, localEvents: summary.localEvents, seconds }
}

async function resign(file) {
  const { lib, SqliteStorageAdapter } = await load()
  const storage = new SqliteStorageAdapter({ database: file })
  const oldKey = lib.decodeSigningKeyBase64('ed25519', 'old', OLD_SEED)
  const keyProvider = new lib.MemoryKeyProvider(
    lib.decodeSigningKeyBase64('ed25519', 'new', NEW_SEED),
    { oldVerifyKeys: [{ key: lib.getVerifyKey(oldKey), expired_ts: 0 }] },
  )
  const runner = new lib.BackgroundUpdateRunner({ storage, sleepEnabled: false })
  const outcomes = {}
  runner.on('update:batch', (batch) => {
    for (const [kind, count] of Object.entries(batch.outcomes ?? {})) {
      outcomes[kind] = (outcomes[kind] ?? 0) + count
    }
  })
  runner.registerJob(lib.eventResignJob({ serverName: SERVER, keyProvider }))
  await runner.startJob('event_resign', {})
  const started = performance.now()
  const report = await runner.runFor(Number.POSITIVE_INFINITY, { sleep: false })
  const seconds = (performance.now() - started) / 1000
  await storage.close()
  return {
    seconds,
    batches: report.batches.length,
    failures: report.failures?.length ?? 0,
    outcomes,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
  }
}

function child(args) {
  const result = spawnSync(process.execPath, [script, ...args], { encoding: 'utf8' })
  if (result.status !== 0) throw new Error(`child ${args[0]} failed:\n${result.stderr}`)
  return JSON.parse(result.stdout.trim().split('\n').at(-1))
}

async function main() {
  const [role, file, size] = process.argv.slice(2)
  if (role === 'generate') return console.log(JSON.stringify(await generate(file, Number(size))))
  if (role === 'resign') return console.log(JSON.stringify(await resign(file)))

  const sizes = (process.env.SQLITE_RESIGN_SIZES ?? '100000,1000000').split(',').map(Number)
  const rows = []
  for (const size of sizes) {
    const directory = mkdtempSync(join(tmpdir(), 'mbu-bench-'))
    try {
      const file = join(directory, 'bench.db')
      const made = child(['generate', file, String(size)])
      const megabytes = statSync(file).size / 1024 / 1024
      const run = child(['resign', file])
      const resigned = run.outcomes.resigned ?? 0
      rows.push({ size, resigned, maxRssMb: run.maxRssMb })
      console.log(
        `${size.toLocaleString('en')} messages: generated ${made.events.toLocaleString('en')} events (${made.localEvents.toLocaleString('en')} local, ${megabytes.toFixed(0)} MB) in ${made.seconds.toFixed(1)} s; ` +
          `re-signed ${resigned.toLocaleString('en')} in ${run.seconds.toFixed(1)} s = ${Math.round(resigned / run.seconds).toLocaleString('en')} events/s, ` +
          `${run.batches} batches, ${run.failures} failures, peak RSS ${run.maxRssMb.toFixed(0)} MB, outcomes ${JSON.stringify(run.outcomes)}`,
      )
    } finally {
      rmSync(directory, { recursive: true, force: true })
    }
  }
  if (rows.length > 1) {
    const ratio = rows.at(-1).maxRssMb / rows[0].maxRssMb
    console.log(`peak RSS at the largest size / at the smallest: ${ratio.toFixed(2)}×`)
  }
}

await main()
