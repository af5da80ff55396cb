// Item 6 of the performance issue: how many batches the runner's tuning (Synapse's: moving
// averages of items and milliseconds, weight 0.1) takes before a batch lasts the target duration
// within ±20 %, with the real event_resign job on the SQLite adapter, sleep off. Each signing
// set-up runs on a fresh copy of the same data set, ROUNDS times alternating; the median is
// printed against the target of at most 10 batches. Figures only.
//
//   npm run build && node bench/run.mjs batch-tuning
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as lib from '../dist/index.node.js'
import { sodiumSigningBackend } from '../dist/sodium.js'
import { SqliteHomeserver, SqliteStorageAdapter } from '../dist/sqlite.js'
import { generateDataSet } from '../dist/testing.js'

const MESSAGES = Number(process.env.BENCH_TUNING_MESSAGES ?? 25_000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const TARGET_MS = 100
const TOLERANCE = 0.2
const MAX_BATCHES = 10
const SERVER = 'local.example'
const OLD_SEED = 'AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI'
const NEW_SEED = 'AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM'

const oldKey = lib.decodeSigningKeyBase64('ed25519', 'old', OLD_SEED)
const newKey = lib.decodeSigningKeyBase64('ed25519', 'new', NEW_SEED)

function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

async function generate(file) {
  const storage = new SqliteStorageAdapter({ database: file })
  await storage.migrate()
  ;(await storage.database()).pragma('synchronous = OFF')
  await generateDataSet(new SqliteHomeserver(storage), {
    seed: 7,
    serverName: SERVER,
    rooms: 24,
    localUsers: 200,
    messages: MESSAGES,
    localShare: 1,
    chunkSize: 5000,
    oldKey,
  })
  await storage.close()
}

/** Runs event_resign to the end and returns the duration of every batch, in order. */
async function batchDurations(file, backend) {
  lib.selectSigningBackend(backend)
  const storage = new SqliteStorageAdapter({ database: file })
  const keyProvider = new lib.MemoryKeyProvider(newKey, {
    oldVerifyKeys: [{ key: lib.getVerifyKey(oldKey), expired_ts: 0 }],
  })
  const runner = new lib.BackgroundUpdateRunner({
    storage,
    sleepEnabled: false,
    targetDurationMs: TARGET_MS,
  })
  const batches = []
  runner.on('update:batch', (batch) => batches.push(batch))
  runner.registerJob(lib.eventResignJob({ serverName: SERVER, keyProvider }))
  await runner.startJob('event_resign', {})
  await runner.runFor(Number.POSITIVE_INFINITY)
  await storage.close()
  lib.selectSigningBackend('native')
  return batches.filter((batch) => !batch.done)
}

const within = (batch) => Math.abs(batch.duration_ms - TARGET_MS) <= TARGET_MS * TOLERANCE

const directory = mkdtempSync(join(tmpdir(), 'mbu-tuning-'))
try {
  const source = join(directory, 'source.db')
  await generate(source)
  const setups = [
    { name: 'node:crypto (default)', backend: 'native', reached: [], held: [], sizes: [] },
    { name: 'sodium-native', backend: sodiumSigningBackend, reached: [], held: [], sizes: [] },
  ]
  for (let round = 0; round < ROUNDS; round++) {
    for (const setup of setups) {
      const file = join(directory, `run-${round}-${setup.backend === 'native' ? 'n' : 's'}.db`)
      copyFileSync(source, file)
      const batches = await batchDurations(file, setup.backend)
      const first = batches.findIndex(within)
      const after = first < 0 ? [] : batches.slice(first + 1, first + 6)
      setup.reached.push(first < 0 ? Number.POSITIVE_INFINITY : first + 1)
      setup.held.push(after.length === 0 ? 0 : after.filter(within).length / after.length)
      setup.sizes.push(
        batches.map((batch) => `${batch.batch_size}:${Math.round(batch.duration_ms)}`),
      )
    }
  }

  console.log(
    `event_resign on SQLite, ${MESSAGES.toLocaleString('en-US')} local messages, sleep off, ` +
      `target ${TARGET_MS} ms ±${TOLERANCE * 100} %, default batch size 100; median of ${ROUNDS} ` +
      'alternating runs',
  )
  for (const setup of setups) {
    const reached = median(setup.reached)
    const verdict = reached <= MAX_BATCHES ? 'met' : 'NOT met'
    console.log(
      `  ${setup.name.padEnd(24)}within ±20 % at batch ${reached} ` +
        `(target ≤ ${MAX_BATCHES}: ${verdict}); of the next 5 batches ` +
        `${Math.round(median(setup.held) * 100)} % stayed within`,
    )
    console.log(
      `    batch size:ms of the first run's first batches: ${setup.sizes[0].slice(0, 12).join(' ')}`,
    )
  }
} finally {
  rmSync(directory, { recursive: true, force: true })
}
