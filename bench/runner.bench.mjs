// Runner overhead per batch: a no-op handler on the memory adapter with the sleep off, so what is
// measured is choosing, tuning, timing out, committing, recording and emitting. Median of several
// rounds, with and without the memory adapter's lease. Target: under 100 µs per batch.
//
//   npm run build && node bench/run.mjs runner
import { BackgroundUpdateRunner, MemoryStorageAdapter } from '../dist/index.node.js'

const BATCHES = 20_000
const ROUNDS = 7
const TARGET_US = 100

function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

/** A handler that does nothing but count, and is done after `batches` batches. */
function noOpHandler(batches) {
  return async ({ progress }) => {
    const next = progress.batch + 1
    return next === batches ? { items: 1, done: true } : { items: 1, progress: { batch: next } }
  }
}

async function oneRound(useLease) {
  const storage = new MemoryStorageAdapter()
  const runner = new BackgroundUpdateRunner({ storage, sleepEnabled: false, useLease })
  runner.registerJob({
    name: 'noop',
    updates: [
      { name: 'noop', handler: noOpHandler(BATCHES), initialProgress: () => ({ batch: 0 }) },
    ],
  })
  await runner.startJob('noop')

  const start = performance.now()
  const report = await runner.runFor(Number.POSITIVE_INFINITY)
  const elapsedMs = performance.now() - start
  if (report.batches.length !== BATCHES) throw new Error(`ran ${report.batches.length} batches`)

  return (elapsedMs * 1000) / BATCHES
}

async function measure(label, useLease) {
  await oneRound(useLease)
  const rounds = []
  for (let round = 0; round < ROUNDS; round++) {
    globalThis.gc?.()
    rounds.push(await oneRound(useLease))
  }

  const perBatch = median(rounds)
  const verdict = perBatch < TARGET_US ? 'under' : 'OVER'
  console.log(
    `${label}: ${perBatch.toFixed(1)} µs per batch (median of ${ROUNDS} × ${BATCHES} batches; ` +
      `${verdict} the ${TARGET_US} µs target)`,
  )
}

await measure('runner, memory adapter, lease held', true)
await measure('runner, memory adapter, no lease', false)
