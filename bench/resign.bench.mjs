// Items 1 to 4 of the performance issue, side by side in one run on the same events: the re-sign
// pipeline against Synapse's Python stack and against raw signing, verification for the old_key
// filter, and canonical JSON. Each contender is a long-lived process of its own (Python, and one
// Node process per signing set-up, so that no set-up's JIT state colours another's) that runs one
// round when asked. The rounds of all contenders alternate, so a burst of load on this shared
// machine hits them alike, and every figure is the median of the rounds. Figures only.
//
//   npm run build && node bench/run.mjs resign
//   BENCH_EVENTS=4000 BENCH_ROUNDS=9 node bench/resign.bench.mjs
import { spawn } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import * as lib from '../dist/index.node.js'
import { resignWorkers } from '../dist/node.js'
import {
  sodiumSigningBackend,
  sodiumWorkerBackend,
  sodiumWorkerSigningKey,
} from '../dist/sodium.js'

const EVENTS = Number(process.env.BENCH_EVENTS ?? 2_000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7)
// The runner's batches settle at 1,000–2,500 events on PostgreSQL at its 100 ms target.
const BATCH = Number(process.env.BENCH_BATCH ?? 1_000)
const SERVER = 'example.org'
const ROOM_VERSION = '10'
const OLD_SEED = 'AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI'
const NEW_SEED = 'AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM'
const PYTHON = '/usr/bin/python3'
const PYTHON_SCRIPT = fileURLToPath(new URL('./resign-python.py', import.meta.url))
const THREADS = Math.max(1, Math.min(2, availableParallelism()))

/** The signing set-ups compared, each in a process of its own. */
const SETUPS = {
  default: { name: 'node:crypto (default)', concurrency: 16 },
  sodium: { name: 'sodium-native', concurrency: 16 },
  workers1: { name: 'sodium-native, 1 worker thread', concurrency: 64, threads: 1 },
  workers2: { name: `sodium-native, ${THREADS} worker threads`, concurrency: 64, threads: THREADS },
  // Signing and verification on worker threads, selected for the whole process.
  workersAll: {
    name: `sodium-native backend, ${THREADS} worker threads`,
    concurrency: 64,
    backendThreads: THREADS,
  },
  // The whole pipeline on worker threads (EventResigner's `offload`), signing with sodium-native
  // there; its raw signing is the same library on as many worker threads.
  offloadAll: {
    name: `resignWorkers, ${THREADS} threads`,
    concurrency: 16,
    offloadThreads: THREADS,
  },
  // The maintenance-window set-up: one worker thread fewer than the cores, and the event loop
  // deciding chunks of each batch too (`callerHelps`), with sodium-native in process. Its raw
  // signing is the same library on the event loop and as many worker threads.
  offload: {
    name: `resignWorkers, ${Math.max(1, THREADS - 1)} thread + event loop`,
    concurrency: 16,
    offloadThreads: Math.max(1, THREADS - 1),
    callerHelps: THREADS > 1,
  },
}

const oldKey = lib.decodeSigningKeyBase64('ed25519', 'old', OLD_SEED)
const newKey = lib.decodeSigningKeyBase64('ed25519', 'new', NEW_SEED)
const oldVerifyKey = lib.getVerifyKey(oldKey)

function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

function messageEvent(index) {
  return {
    type: 'm.room.message',
    room_id: '!OGEhHVWSdvArJzumhm:example.org',
    sender: `@user${index % 50}:example.org`,
    content: {
      msgtype: 'm.text',
      body: `Message ${index}: hello there, how is everyone doing on this fine day?`,
    },
    depth: 1000 + index,
    prev_events: ['$Qv2CwLn8vX5V3dEtKHxvVYgqj3O1nSxnhGmRFpNAdzU'],
    auth_events: ['$gbHO7IPUHybc7ULFnT7P0r3iWlZFHGmr6zBfEYCUyKw'],
    origin_server_ts: 1_700_000_000_000 + index,
    unsigned: { age_ts: 1_700_000_000_000 + index },
  }
}

/** The same events in every process: fixed keys, and Ed25519 is deterministic. */
async function buildEvents() {
  const events = []
  for (let i = 0; i < EVENTS; i++) {
    events.push(await lib.signEvent(messageEvent(i), ROOM_VERSION, SERVER, oldKey))
  }
  return events
}

async function timed(count, run) {
  const start = performance.now()
  await run()
  return count / ((performance.now() - start) / 1000)
}

async function inBatches(items, work) {
  for (let i = 0; i < items.length; i += BATCH) await work(items.slice(i, i + BATCH))
}

/** A child process: one contender, running the round each stdin line names. */
async function serveContender(id) {
  const setup = SETUPS[id]
  if (id === 'sodium' || id === 'offload') lib.selectSigningBackend(sodiumSigningBackend)
  const backend = setup.backendThreads
    ? sodiumWorkerBackend({ threads: setup.backendThreads })
    : undefined
  if (backend !== undefined) lib.selectSigningBackend(backend)
  const key = setup.threads ? sodiumWorkerSigningKey(newKey, { threads: setup.threads }) : newKey
  const keyProvider = new lib.MemoryKeyProvider(key, {
    oldVerifyKeys: [{ key: oldVerifyKey, expired_ts: 0 }],
  })
  const offload = setup.offloadThreads
    ? resignWorkers({
        threads: setup.offloadThreads,
        signer: 'sodium',
        callerHelps: setup.callerHelps ?? false,
      })
    : undefined
  const rawKey = setup.offloadThreads
    ? sodiumWorkerSigningKey(newKey, { threads: setup.offloadThreads })
    : key
  const resigner = new lib.EventResigner({
    keyProvider,
    serverName: SERVER,
    concurrency: setup.concurrency,
    offload,
  })

  const events = await buildEvents()
  const stored = events.map((event) => ({
    event,
    roomVersion: ROOM_VERSION,
    eventId: lib.computeEventId(event, ROOM_VERSION),
  }))
  const messages = events.map((event) => {
    const { signatures: _s, unsigned: _u, ...rest } = lib.redactEvent(event, ROOM_VERSION)
    return lib.encodeCanonicalJsonBytes(rest)
  })

  const countResigned = async (options) => {
    let resigned = 0
    await inBatches(stored, async (batch) => {
      for (const outcome of await resigner.resign(batch, options)) {
        if (outcome.status === 'resigned') resigned++
      }
    })
    if (resigned !== EVENTS) throw new Error(`${setup.name} re-signed ${resigned} of ${EVENTS}`)
  }
  const syncEach = (run) => async () => {
    for (const event of events) run(event)
  }
  const rounds = {
    pipeline: () => countResigned({}),
    oldkey: () => countResigned({ oldKey: oldVerifyKey }),
    raw: () =>
      inBatches(messages, (batch) => {
        if (!setup.callerHelps) return Promise.all(batch.map((bytes) => rawKey.sign(bytes)))
        // Half on the worker threads, sent first; the other half here, meanwhile.
        const half = Math.floor(batch.length / 2)
        const there = batch.slice(half).map((bytes) => rawKey.sign(bytes))
        const here = batch.slice(0, half).map((bytes) => key.sign(bytes))
        return Promise.all([...here, ...there])
      }),
    verify: () =>
      inBatches(events, async (batch) => {
        const checks = batch.map((event) =>
          lib.verifyEventSignature(event, ROOM_VERSION, SERVER, oldVerifyKey),
        )
        if (!(await Promise.all(checks)).every(Boolean)) throw new Error('a signature failed')
      }),
    'canonical-bytes': syncEach(lib.encodeCanonicalJsonBytes),
    'canonical-text': syncEach(lib.encodeCanonicalJson),
    stringify: syncEach(JSON.stringify),
  }

  // The first event's new signature, so the coordinator can check every set-up agrees.
  const [first] = await resigner.resign(stored.slice(0, 1))
  console.log(JSON.stringify({ signature: first.event.signatures[SERVER][newKey.keyId] }))
  for await (const line of createInterface({ input: process.stdin })) {
    const run = rounds[line.trim()]
    console.log(JSON.stringify({ rate: await timed(EVENTS, run) }))
  }
  await key.close?.()
  await backend?.close()
  await offload?.close()
  if (rawKey !== key) await rawKey.close()
}

/** Starts a contender process that answers one JSON line per request line. */
function startProcess(command, args, setupLine) {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk) => {
    stderr += chunk
  })
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  if (setupLine !== undefined) child.stdin.write(`${setupLine}\n`)

  const next = async () => {
    const line = await lines.next()
    if (line.done) throw new Error(`${args.at(-1)} stopped: ${stderr.trim().split('\n').at(-1)}`)
    return JSON.parse(line.value)
  }
  return {
    next,
    async round(task) {
      child.stdin.write(`${task}\n`)
      return (await next()).rate
    },
    close: () => child.stdin.end(),
  }
}

async function coordinate() {
  const events = await buildEvents()
  const script = fileURLToPath(import.meta.url)
  const python = startProcess(
    PYTHON,
    [PYTHON_SCRIPT],
    JSON.stringify({ events, server: SERVER, verify_key: lib.encodeBase64(oldVerifyKey.bytes) }),
  )
  const ids = Object.keys(SETUPS).filter(
    (id, index, all) => all.findIndex((other) => SETUPS[other].name === SETUPS[id].name) === index,
  )
  const nodes = Object.fromEntries(
    ids.map((id) => [id, startProcess(process.execPath, ['--expose-gc', script, 'contender', id])]),
  )
  const signatures = new Set()
  for (const id of ids) signatures.add((await nodes[id].next()).signature)
  if (signatures.size !== 1) throw new Error('the set-ups gave different signatures')

  // Which rounds run, and by whom; in this order within every round.
  const plan = [
    ['python', 'resign'],
    ...ids.map((id) => [id, 'pipeline']),
    ...ids.map((id) => [id, 'raw']),
    ['python', 'verify'],
    ['default', 'verify'],
    ['sodium', 'verify'],
    ['workersAll', 'verify'],
    ['default', 'oldkey'],
    ['sodium', 'oldkey'],
    ['workersAll', 'oldkey'],
    ['offloadAll', 'oldkey'],
    ['offload', 'oldkey'],
    ['python', 'canonical'],
    ['default', 'canonical-bytes'],
    ['default', 'canonical-text'],
    ['default', 'stringify'],
  ]
  const rates = new Map(plan.map(([who, task]) => [`${who} ${task}`, []]))
  let pythonError
  for (let round = -1; round < ROUNDS; round++) {
    // Round -1 warms every path up and is not counted.
    for (const [who, task] of plan) {
      if (who === 'python' && pythonError !== undefined) continue
      try {
        const rate = await (who === 'python' ? python : nodes[who]).round(task)
        if (round >= 0) rates.get(`${who} ${task}`).push(rate)
      } catch (error) {
        if (who !== 'python') throw error
        pythonError = error
      }
    }
  }
  python.close()
  for (const id of ids) nodes[id].close()

  report(
    ids,
    (who, task) => {
      const list = rates.get(`${who} ${task}`)
      return list.length > 0 ? median(list) : undefined
    },
    pythonError,
  )
}

function report(ids, figure, pythonError) {
  const rate = (value) =>
    value === undefined
      ? `not run${pythonError ? `: ${pythonError.message}` : ''}`
      : `${Math.round(value).toLocaleString('en-US').padStart(7)} events/s`
  const ratio = (value, target, stretch) => {
    const text = `ratio ${value.toFixed(2)}×`
    if (target === undefined) return text
    const verdict = value >= target ? 'met' : 'NOT met'
    return `${text} (target ≥ ${target}×${stretch ? `, stretch ${stretch}×` : ''}: ${verdict})`
  }
  const line = (label, value, extra = '') =>
    console.log(`  ${label.padEnd(46)}${rate(value)}${extra}`)
  const name = (id) => SETUPS[id].name

  console.log(
    `${EVENTS} signed m.room.message events, room version ${ROOM_VERSION}; ` +
      `medians of ${ROUNDS} alternating rounds; batches of ${BATCH}`,
  )
  const fastest = ids.reduce((a, b) => (figure(b, 'pipeline') > figure(a, 'pipeline') ? b : a))
  const shown = fastest === 'default' ? ['default'] : ['default', fastest]
  const kind = (id) => (id === 'default' ? 'default' : 'fastest')

  console.log(
    "\n1. Re-sign pipeline (EventResigner, safety rule included) vs Synapse's Python stack",
  )
  const pyResign = figure('python', 'resign')
  line('Python signedjson + PyNaCl', pyResign)
  for (const id of ids) line(name(id), figure(id, 'pipeline'))
  for (const id of shown) {
    if (pyResign === undefined) break
    const value = figure(id, 'pipeline') / pyResign
    console.log(`  ${kind(id)} (${name(id)}) / Python: ${ratio(value, 1.5, 2)}`)
  }

  console.log('\n2. Re-sign pipeline vs raw signing of the same canonical bytes, same backend')
  for (const id of ids) {
    const value = figure(id, 'pipeline') / figure(id, 'raw')
    const target = shown.includes(id) ? 0.7 : undefined
    line(`raw, ${name(id)}`, figure(id, 'raw'), `  ${ratio(value, target)}`)
  }
  // Context: what libsodium signs on one thread with nothing else to do, times the threads.
  const floor = figure('sodium', 'raw') * THREADS
  const share = figure(fastest, 'pipeline') / floor
  line(
    `raw, sodium-native in process × ${THREADS}`,
    floor,
    `  ${name(fastest)}: ratio ${share.toFixed(2)}× (context)`,
  )

  console.log("\n3. Verification (the old_key filter's check) vs Python's verify_signed_json")
  const pyVerify = figure('python', 'verify')
  line('Python verify_signed_json', pyVerify)
  const verifiers = ['default', 'sodium', 'workersAll']
  const best = verifiers.reduce((a, b) => (figure(b, 'verify') > figure(a, 'verify') ? b : a))
  for (const id of verifiers) {
    const value = figure(id, 'verify')
    const extra = pyVerify
      ? `  ${id === 'default' ? 'default' : 'sodium'}${id === best ? ', fastest' : ''}: ${ratio(value / pyVerify, 1.3, 2)}`
      : ''
    line(`verifyEventSignature, ${name(id)}`, value, extra)
  }
  for (const id of [...verifiers, 'offloadAll', 'offload']) {
    line(`pipeline with old_key, ${name(id)}`, figure(id, 'oldkey'))
  }

  console.log('\n4. Canonical JSON of the whole signed events (context, no target)')
  const pyCanonical = figure('python', 'canonical')
  const stringify = figure('default', 'stringify')
  const versus = (value) =>
    `  ${pyCanonical ? `${(value / pyCanonical).toFixed(2)}× Python, ` : ''}` +
    `${(value / stringify).toFixed(2)}× JSON.stringify`
  line('Python encode_canonical_json (bytes)', pyCanonical)
  line(
    'encodeCanonicalJsonBytes',
    figure('default', 'canonical-bytes'),
    versus(figure('default', 'canonical-bytes')),
  )
  line(
    'encodeCanonicalJson (text)',
    figure('default', 'canonical-text'),
    versus(figure('default', 'canonical-text')),
  )
  line('JSON.stringify (not canonical)', stringify)
}

if (process.argv[2] === 'contender') await serveContender(process.argv[3])
else await coordinate()
