// Re-signs N local events on PostgreSQL through the runner, sleep off, without and with `old_key`,
// and prints events/s, batches and the peak RSS of the process that ran the job. Each size is
// generated once, by a child process, into a template database; every run copies it
// (CREATE DATABASE … TEMPLATE) and runs `event_resign` in a child process of its own, so the peak
// RSS is the job's alone. Figures only, no targets, except the memory check: peak RSS at
// the largest size within 1.2× of the smallest, for each mode.
//
//   npm run build && node bench/postgres-resign.bench.mjs
//   PG_RESIGN_SIZES=100000,1000000 node bench/postgres-resign.bench.mjs   (the default sizes)
//
// The server: DATABASE_URL, or the PG* variables, default postgres@127.0.0.1:5432 (trust auth).
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import pg from 'pg'

const SERVER = 'local.example'
const OLD_SEED = 'AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI'
const NEW_SEED = 'AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM'
const script = fileURLToPath(import.meta.url)

/** The connection string of `database` on the bench server. */
function urlFor(database) {
  if (process.env.DATABASE_URL) {
    const url = new URL(process.env.DATABASE_URL)
    url.pathname = `/${database}`
    return url.toString()
  }
  const user = encodeURIComponent(process.env.PGUSER ?? 'postgres')
  const password = process.env.PGPASSWORD ? `:${encodeURIComponent(process.env.PGPASSWORD)}` : ''
  const host = process.env.PGHOST ?? '127.0.0.1'
  return `postgres://${user}${password}@${host}:${process.env.PGPORT ?? 5432}/${database}`
}

async function admin(sql) {
  const client = new pg.Client({ connectionString: urlFor(process.env.PGDATABASE ?? 'postgres') })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

async function load() {
  const lib = await import('../dist/index.node.js')
  const { PostgresHomeserver, PostgresStorageAdapter } = await import('../dist/postgres.js')
  const { generateDataSet } = await import('../dist/testing.js')
  return { lib, PostgresHomeserver, PostgresStorageAdapter, generateDataSet }
}

async function generate(database, size) {
  const { lib, PostgresHomeserver, PostgresStorageAdapter, generateDataSet } = await load()
  const storage = new PostgresStorageAdapter({ connectionString: urlFor(database) })
  await storage.migrate()
  const started = performance.now()
  const summary = await generateDataSet(new PostgresHomeserver(storage), {
    seed: 7,
    serverName: SERVER,
    rooms: Math.max(24, Math.round(size / 2000)),
    localUsers: 200,
    messages: size,
    localShare: 1,
    chunkSize: 5000,
    oldKey: lib.decodeSigningKeyBase64('ed25519', 'old', OLD_SEED),
  })
  await (await storage.pool()).query('VACUUM ANALYZE')
  await storage.close()
  const seconds = (performance.now() - started) / 1000
  return { events: summary.events, localEvents: summary.localEvents, seconds }
}

async function resign(database, mode) {
  const { lib, PostgresStorageAdapter } = await load()
  const storage = new PostgresStorageAdapter({ connectionString: urlFor(database) })
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
  const verifyKey = lib.getVerifyKey(oldKey)
  const params =
    mode === 'old_key' ? { old_key: `ed25519:old ${lib.encodeVerifyKeyBase64(verifyKey)}` } : {}
  await runner.startJob('event_resign', params)
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
  const result = spawnSync(process.execPath, [script, ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  })
  if (result.status !== 0) throw new Error(`child ${args[0]} failed:\n${result.stderr}`)
  return JSON.parse(result.stdout.trim().split('\n').at(-1))
}

const thousands = (n) => n.toLocaleString('en')

async function benchSize(size, rows) {
  const template = `mbu_bench_${size}_${process.pid}`
  await admin(`CREATE DATABASE ${template} TEMPLATE template0 ENCODING 'UTF8'`)
  try {
    const made = child(['generate', template, String(size)])
    console.log(
      `${thousands(size)} messages: generated ${thousands(made.events)} events (${thousands(made.localEvents)} local) in ${made.seconds.toFixed(1)} s`,
    )
    for (const mode of ['no old_key', 'old_key']) {
      const copy = `${template}_run`
      await admin(`CREATE DATABASE ${copy} TEMPLATE ${template}`)
      try {
        const run = child(['resign', copy, mode])
        const resigned = run.outcomes.resigned ?? 0
        rows.push({ size, mode, maxRssMb: run.maxRssMb })
        console.log(
          `  ${mode}: re-signed ${thousands(resigned)} in ${run.seconds.toFixed(1)} s = ${thousands(Math.round(resigned / run.seconds))} events/s, ` +
            `${run.batches} batches, ${run.failures} failures, peak RSS ${run.maxRssMb.toFixed(0)} MB, outcomes ${JSON.stringify(run.outcomes)}`,
        )
      } finally {
        await admin(`DROP DATABASE IF EXISTS ${copy} WITH (FORCE)`)
      }
    }
  } finally {
    await admin(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`)
  }
}

async function main() {
  const [role, database, argument] = process.argv.slice(2)
  if (role === 'generate') {
    return console.log(JSON.stringify(await generate(database, Number(argument))))
  }
  if (role === 'resign') return console.log(JSON.stringify(await resign(database, argument)))

  const sizes = (process.env.PG_RESIGN_SIZES ?? '100000,1000000').split(',').map(Number)
  const rows = []
  const started = performance.now()
  for (const size of sizes) await benchSize(size, rows)
  for (const mode of ['no old_key', 'old_key']) {
    const runs = rows.filter((row) => row.mode === mode)
    if (runs.length < 2) continue
    const ratio = runs.at(-1).maxRssMb / runs[0].maxRssMb
    const verdict = ratio <= 1.2 ? 'within' : 'OVER'
    console.log(
      `${mode}: peak RSS at ${thousands(runs.at(-1).size)} / at ${thousands(runs[0].size)}: ${ratio.toFixed(2)}× (${verdict} 1.2×)`,
    )
  }
  console.log(`wall time ${((performance.now() - started) / 1000).toFixed(0)} s`)
}

await main()
