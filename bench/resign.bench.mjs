// Events per second for resignEvent on ~400-byte m.room.message events (room version 10), and for
// Synapse's Python stack (signedjson + canonicaljson + PyNaCl) doing the same work in the same run:
// shallow copies, prune, canonicalize, sign. Medians of several rounds; figures only, no targets.
//
//   npm run build && node bench/run.mjs resign
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { generateSigningKey, resignEvent, signEvent } from '../dist/index.node.js'

const EVENTS = 2_000
const ROUNDS = 7
const BATCH = 100
const SERVER = 'example.org'
const PYTHON = '/usr/bin/python3'
const PYTHON_SCRIPT = fileURLToPath(new URL('./resign-python.py', import.meta.url))

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
  }
}

async function buildEvents(oldKey) {
  const events = []
  for (let i = 0; i < EVENTS; i++)
    events.push(await signEvent(messageEvent(i), '10', SERVER, oldKey))
  return events
}

async function oneByOne(events, options) {
  const start = performance.now()
  for (const event of events) await resignEvent(event, options)
  return events.length / ((performance.now() - start) / 1000)
}

async function batched(events, options) {
  const start = performance.now()
  for (let i = 0; i < events.length; i += BATCH) {
    await Promise.all(events.slice(i, i + BATCH).map((event) => resignEvent(event, options)))
  }
  return events.length / ((performance.now() - start) / 1000)
}

async function rounds(run) {
  const rates = []
  for (let round = 0; round < ROUNDS; round++) {
    globalThis.gc?.()
    rates.push(await run())
  }
  return median(rates)
}

function pythonRate(events) {
  const input = JSON.stringify({ events, server: SERVER, rounds: ROUNDS })
  const result = spawnSync(PYTHON, [PYTHON_SCRIPT], { input, encoding: 'utf8' })
  if (result.status !== 0) return { error: (result.stderr || result.error?.message || '').trim() }
  return { rate: median(JSON.parse(result.stdout).rates) }
}

const format = (rate) => `${Math.round(rate).toLocaleString('en-US')} events/s`

const oldKey = generateSigningKey('old')
const newKey = generateSigningKey('new')
const events = await buildEvents(oldKey)
const options = { roomVersion: '10', serverName: SERVER, signingKey: newKey }
const averageSize = (list) =>
  Math.round(list.reduce((sum, e) => sum + JSON.stringify(e).length, 0) / list.length)
const size = averageSize(events.map((_, i) => messageEvent(i)))
const signedSize = averageSize(events)

await oneByOne(events.slice(0, 200), options)
const sequential = await rounds(() => oneByOne(events, options))
const parallel = await rounds(() => batched(events, options))
const python = pythonRate(events)

console.log(
  `resignEvent, ${EVENTS} m.room.message events of ~${size} bytes (~${signedSize} signed)`,
)
console.log(`  median of ${ROUNDS} rounds`)
console.log(`  awaited one by one          ${format(sequential)}`)
console.log(`  batches of ${BATCH} in parallel   ${format(parallel)}`)
if (python.rate === undefined) {
  console.log(`  Python signedjson           not run: ${python.error}`)
} else {
  console.log(`  Python signedjson           ${format(python.rate)}`)
  console.log(`  ratio, one by one / Python  ${(sequential / python.rate).toFixed(2)}`)
  console.log(`  ratio, batched / Python     ${(parallel / python.rate).toFixed(2)}`)
}
