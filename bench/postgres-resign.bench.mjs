// Re-signs N local events on PostgreSQL through the runner, sleep off, without and with `old_key`,
// and prints events/s, batches and the peak RSS of the process that ran the job. Each size is
// generated once, by a child process, into a template database; every run copies it
// (CREATE DATABASE … TEMPLATE) and runs `event_resign` in a child process of its own, so the peak
// RSS is the job's alone. The Node job runs twice per mode: with the default signing (node:crypto)
// and with the fastest set-up the library ships (the job's `offload`: resignWorkers, 2 threads,
// sodium-native), to which the targets apply. After the Node runs, the Python reference loop
// (postgres-resign-python.py: Synapse's stack, psycopg2's execute_batch) re-signs a fresh copy of
// the same template, in pages as large as the Node runs' batches settled at. Both copies are then
// checked: the events signed by the new key id only must number what the run claims, and a sample
// of the Python loop's signatures must verify with the library. Targets (issue item 5): ≥ 10,000
// events/s without `old_key`, ≥ 1.5× the Python loop; and peak RSS at the largest size within
// 1.2× of the smallest, for each mode.
//
//   npm run build && node bench/postgres-resign.bench.mjs
//   PG_RESIGN_SIZES=100000,1000000 node bench/postgres-resign.bench.mjs   (the default sizes)
//   PG_RESIGN_PY_PAGE=1000 …   a fixed page size for the Python loop instead of the Node one's
//   PG_RESIGN_ROUNDS=5 …       rounds per size (default 3 up to 200,000 messages, 1 above); each
//                              round runs every contender once, in a rotating order, on a fresh
//                              copy, and the figures are the medians of the rounds
//
// The server: DATABASE_URL, or the PG* variables, default postgres@127.0.0.1:5432 (trust auth).
// The Python side needs /usr/bin/python3 with python3-psycopg2, python3-signedjson,
// python3-canonicaljson and python3-nacl; without them its figures read "not run".
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import pg from 'pg'

const SERVER = 'local.example'
const OLD_SEED = 'AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI'
const NEW_SEED = 'AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM'
const NEW_KEY_ID = 'ed25519:new'
const script = fileURLToPath(import.meta.url)
const PYTHON = '/usr/bin/python3'
const PYTHON_SCRIPT = fileURLToPath(new URL('./postgres-resign-python.py', import.meta.url))
const NODE_TARGET = 10_000
const RATIO_TARGET = 1.5
/** Python signatures checked with the library per run: every state event, messages sampled. */
const VERIFY_SAMPLE = 2000

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

async function withClient(database, work) {
  const client = new pg.Client({ connectionString: urlFor(database) })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

const admin = (sql) =>
  withClient(process.env.PGDATABASE ?? 'postgres', (client) => client.query(sql))

/** The old key as the `old_key` parameter takes it: `ed25519:old <base64>`. */
function oldKeyParam(lib) {
  const verifyKey = lib.getVerifyKey(lib.decodeSigningKeyBase64('ed25519', 'old', OLD_SEED))
  return `ed25519:old ${lib.encodeVerifyKeyBase64(verifyKey)}`
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

/** The signing set-ups the Node job runs with: the default, and the fastest the library ships. */
const BACKENDS = {
  default: 'node:crypto (default)',
  offload: 'resignWorkers, 2 threads (fastest)',
}

async function resign(database, mode, backend) {
  const { lib, PostgresStorageAdapter } = await load()
  const offload =
    backend === 'offload'
      ? (await import('../dist/node.js')).resignWorkers({ threads: 2, signer: 'sodium' })
      : undefined
  const storage = new PostgresStorageAdapter({ connectionString: urlFor(database) })
  const oldKey = lib.decodeSigningKeyBase64('ed25519', 'old', OLD_SEED)
  const keyProvider = new lib.MemoryKeyProvider(
    lib.decodeSigningKeyBase64('ed25519', 'new', NEW_SEED),
    { oldVerifyKeys: [{ key: lib.getVerifyKey(oldKey), expired_ts: 0 }] },
  )
  const runner = new lib.BackgroundUpdateRunner({ storage, sleepEnabled: false })
  const outcomes = {}
  const sizes = []
  runner.on('update:batch', (batch) => {
    sizes.push(batch.batch_size)
    for (const [kind, count] of Object.entries(batch.outcomes ?? {})) {
      outcomes[kind] = (outcomes[kind] ?? 0) + count
    }
  })
  runner.registerJob(lib.eventResignJob({ serverName: SERVER, keyProvider, offload }))
  const params = mode === 'old_key' ? { old_key: oldKeyParam(lib) } : {}
  await runner.startJob('event_resign', params)
  const started = performance.now()
  const report = await runner.runFor(Number.POSITIVE_INFINITY, { sleep: false })
  const seconds = (performance.now() - started) / 1000
  await storage.close()
  await offload?.close()
  return {
    seconds,
    batches: report.batches.length,
    failures: report.failures?.length ?? 0,
    outcomes,
    settledBatch: settledSize(sizes),
    maxRssMb: process.resourceUsage().maxRSS / 1024,
  }
}

/** The median batch size of the second half of a run, once the tuning has settled. */
function settledSize(sizes) {
  const settled = sizes.slice(Math.floor(sizes.length / 2)).sort((a, b) => a - b)
  return settled[Math.floor(settled.length / 2)] ?? 100
}

function child(args) {
  const result = spawnSync(process.execPath, [script, ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  })
  if (result.status !== 0) throw new Error(`child ${args[0]} failed:\n${result.stderr}`)
  return JSON.parse(result.stdout.trim().split('\n').at(-1))
}

/** Runs the Python loop on `database`; its JSON line, or `{ error }` when it could not run. */
async function python(database, mode, page) {
  const { lib } = await load()
  const args = [PYTHON_SCRIPT, urlFor(database), SERVER, NEW_SEED, '--page', String(page)]
  if (mode === 'old_key') args.push('--old-key', oldKeyParam(lib))
  const result = spawnSync(PYTHON, args, { encoding: 'utf8', maxBuffer: 1 << 26 })
  if (result.error) return { error: result.error.message }
  if (result.status !== 0) return { error: result.stderr.trim().split('\n').at(-1) }
  return JSON.parse(result.stdout.trim().split('\n').at(-1))
}

/** Events whose `signatures[SERVER]` holds the new key id and nothing else. */
const newOnlySql = `SELECT count(*)::int AS n FROM event_json
  WHERE jsonb_typeof(json::jsonb #> ARRAY['signatures', $1]) = 'object'
    AND ARRAY(SELECT jsonb_object_keys(json::jsonb #> ARRAY['signatures', $1])) = ARRAY[$2]`

/**
 * Checks a run on its copy: the events signed by the new key only, and, with `sample`, the
 * signatures of every re-signed state event and of messages spread over the stream, verified
 * with the library. Returns { newOnly, verified, checked }.
 */
async function check(database, sample) {
  const { lib } = await load()
  const newKey = lib.getVerifyKey(lib.decodeSigningKeyBase64('ed25519', 'new', NEW_SEED))
  return withClient(database, async (client) => {
    const { rows } = await client.query(newOnlySql, [SERVER, NEW_KEY_ID])
    const result = { newOnly: rows[0].n, verified: 0, checked: 0 }
    if (!sample) return result

    const counted = await client.query(
      `SELECT count(*)::int AS n FROM events WHERE type = 'm.room.message'`,
    )
    const step = Math.max(1, Math.ceil(counted.rows[0].n / VERIFY_SAMPLE))
    const picked = await client.query(
      `SELECT r.room_version, j.json FROM events AS e
        JOIN event_json AS j ON j.event_id = e.event_id JOIN rooms AS r ON r.room_id = e.room_id
        WHERE (e.type <> 'm.room.message' OR e.stream_ordering % $1 = 0)
          AND j.json::jsonb #> ARRAY['signatures', $2, $3] IS NOT NULL`,
      [step, SERVER, NEW_KEY_ID],
    )
    for (const row of picked.rows) {
      const event = JSON.parse(row.json)
      result.checked++
      if (await lib.verifyEventSignature(event, row.room_version, SERVER, newKey)) {
        result.verified++
      }
    }
    return result
  })
}

/** A fresh copy of `template`, checkpointed so no run pays for the previous copy's writes. */
async function withCopy(template, work) {
  const copy = `${template}_run`
  await admin(`CREATE DATABASE ${copy} TEMPLATE ${template}`)
  try {
    await admin('CHECKPOINT')
    return await work(copy)
  } finally {
    await admin(`DROP DATABASE IF EXISTS ${copy} WITH (FORCE)`)
  }
}

const thousands = (n) => n.toLocaleString('en')
const rate = (events, seconds) => `${thousands(Math.round(events / seconds))} events/s`
const verdict = (met) => (met ? 'met' : 'NOT met')

/** The check's sentence: what the SQL found against what the run claimed. */
function checkText(found, claimed) {
  const right = found.newOnly === claimed ? 'as claimed' : `WRONG, ${thousands(claimed)} claimed`
  const all = found.verified === found.checked ? '' : ' (WRONG)'
  const verified =
    found.checked > 0
      ? `; ${thousands(found.verified)}/${thousands(found.checked)} verify${all}`
      : ''
  return `check: ${thousands(found.newOnly)} signed by ${NEW_KEY_ID} only, ${right}${verified}`
}

/** Rounds per size: PG_RESIGN_ROUNDS, else 3 up to 200,000 messages and 1 above. */
function roundsFor(size) {
  const given = Number(process.env.PG_RESIGN_ROUNDS)
  return Number.isSafeInteger(given) && given > 0 ? given : size <= 200_000 ? 3 : 1
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

/** One Node run on a fresh copy, printed. */
async function nodeRun(template, mode, backend, round) {
  const node = await withCopy(template, async (copy) => {
    const run = child(['resign', copy, mode, backend])
    return { ...run, found: await check(copy, false) }
  })
  const resigned = node.outcomes.resigned ?? 0
  console.log(
    `  ${mode}, round ${round}, Node, ${BACKENDS[backend]}: re-signed ${thousands(resigned)} in ${node.seconds.toFixed(1)} s = ${rate(resigned, node.seconds)}, ` +
      `${node.batches} batches (settled at ${thousands(node.settledBatch)}), ${node.failures} failures, ` +
      `peak RSS ${node.maxRssMb.toFixed(0)} MB, outcomes ${JSON.stringify(node.outcomes)}; ${checkText(node.found, resigned)}`,
  )
  return { ...node, resigned, rate: resigned / node.seconds }
}

/** One run of the Python loop on a fresh copy, printed; undefined when it could not run. */
async function pythonRun(template, mode, page, round) {
  const py = await withCopy(template, async (copy) => {
    const run = await python(copy, mode, page)
    return run.error ? run : { ...run, found: await check(copy, true) }
  })
  if (py.error) {
    console.log(`  ${mode}, round ${round}, Python: not run: ${py.error}`)
    return undefined
  }
  console.log(
    `  ${mode}, round ${round}, Python: re-signed ${thousands(py.resigned)} in ${py.seconds.toFixed(1)} s = ${rate(py.resigned, py.seconds)}, ` +
      `${py.batches} pages of ${thousands(py.page)}, peak RSS ${py.maxRssMb.toFixed(0)} MB, skipped ${JSON.stringify(py.skipped)}; ${checkText(py.found, py.resigned)}`,
  )
  return { ...py, rate: py.resigned / py.seconds }
}

async function benchSize(size, rows) {
  const template = `mbu_bench_${size}_${process.pid}`
  await admin(`CREATE DATABASE ${template} TEMPLATE template0 ENCODING 'UTF8'`)
  try {
    const made = child(['generate', template, String(size)])
    const rounds = roundsFor(size)
    console.log(
      `${thousands(size)} messages: generated ${thousands(made.events)} events (${thousands(made.localEvents)} local) in ${made.seconds.toFixed(1)} s; ${rounds} round(s), contenders alternating`,
    )
    for (const mode of ['no old_key', 'old_key']) {
      const runs = { python: [] }
      for (const backend of Object.keys(BACKENDS)) runs[backend] = []
      let page = Number(process.env.PG_RESIGN_PY_PAGE) || undefined
      let pythonFailed = false
      for (let round = 1; round <= rounds; round++) {
        // The first round runs the Node set-ups first: the Python loop's pages are as large as
        // the largest batch size they settled at (larger pages are faster for it). Later rounds
        // rotate the order, so that no contender always goes first.
        const order = [...Object.keys(BACKENDS), 'python']
        const turned = order.slice(round - 1).concat(order.slice(0, round - 1))
        for (const contender of round === 1 ? order : turned) {
          if (contender !== 'python') {
            const run = await nodeRun(template, mode, contender, round)
            runs[contender].push(run)
            if (round === 1 && !process.env.PG_RESIGN_PY_PAGE) {
              page = Math.max(page ?? 0, run.settledBatch)
            }
          } else if (!pythonFailed) {
            const run = await pythonRun(template, mode, page ?? 1000, round)
            if (run === undefined) pythonFailed = true
            else runs.python.push(run)
          }
        }
      }
      rows.push({ size, mode, maxRssMb: median(runs.default.map((run) => run.maxRssMb)) })

      const pyRate = runs.python.length > 0 ? median(runs.python.map((run) => run.rate)) : undefined
      if (pyRate !== undefined) {
        const same = runs.python.every((run) => run.resigned === runs.default[0].resigned)
        console.log(
          `  ${mode}: Python median ${rate(pyRate, 1)} (${same ? 'as many events as Node' : 'NOT as many events as Node'})`,
        )
      }
      for (const [backend, name] of Object.entries(BACKENDS)) {
        const nodeRate = median(runs[backend].map((run) => run.rate))
        const rss = median(runs[backend].map((run) => run.maxRssMb))
        const ratio = pyRate === undefined ? undefined : nodeRate / pyRate
        const ratioText = ratio === undefined ? 'no Python figure' : `${ratio.toFixed(2)}× Python`
        if (backend === 'default') {
          console.log(
            `  ${mode}: Node, ${name}: median ${rate(nodeRate, 1)}, ${ratioText}, peak RSS ${rss.toFixed(0)} MB`,
          )
          continue
        }
        const speed =
          mode === 'no old_key'
            ? `≥ ${thousands(NODE_TARGET)} events/s: ${verdict(nodeRate >= NODE_TARGET)}; `
            : ''
        const versus =
          ratio === undefined ? '' : `≥ ${RATIO_TARGET}× Python: ${verdict(ratio >= RATIO_TARGET)}`
        console.log(
          `  ${mode}: Node, ${name}: median ${rate(nodeRate, 1)}, ${ratioText}, peak RSS ${rss.toFixed(0)} MB — ${speed}${versus}`,
        )
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
  if (role === 'resign') {
    const backend = process.argv[5] ?? 'default'
    return console.log(JSON.stringify(await resign(database, argument, backend)))
  }

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
