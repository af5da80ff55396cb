/**
 * Crash recovery over SQLite: event_resign, then event_resign_revert, run in child processes that
 * are SIGKILLed at fail points (in the middle of applying writes, just before commit, just after
 * commit, after the final commit and before `update:complete`) and at random moments, then
 * restarted, until the job completes. Every event is then checked. The seed of the random moments
 * is printed; `CRASH_SEED=<seed>` replays them.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { build, type Plugin } from 'esbuild'
import {
  BackgroundUpdateRunner,
  computeContentHash,
  computeEventId,
  encodeBase64,
  eventResignJob,
  eventResignRevertJob,
  generateSigningKey,
  type JsonObject,
  type MemoryEventSeed,
  MemoryKeyProvider,
  signEvent,
  verifyEventSignature,
} from 'matrix-background-updates'
import { SqliteHomeserver, SqliteStorageAdapter } from 'matrix-background-updates/sqlite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const SERVER = 'crash.example'
const ROOT = join(import.meta.dirname, '..', '..')
/** The child, bundled from the sources (not dist/, which another build may be rewriting). */
const CHILD = join(ROOT, 'node_modules', '.cache', 'mbu-crash', `child-${process.pid}.mjs`)
const FAIL_POINTS = ['mid-apply', 'before-commit', 'after-commit'] as const
const seed = Number(process.env.CRASH_SEED ?? Date.now() % 2 ** 31)

/** Resolves the package to its sources, with the node:crypto backend, as the `node` build does. */
const fromSources: Plugin = {
  name: 'from-sources',
  setup(builder) {
    const src = (path: string) => join(ROOT, 'src', path)
    builder.onResolve({ filter: /^matrix-background-updates$/ }, () => ({ path: src('index.ts') }))
    builder.onResolve({ filter: /^matrix-background-updates\/sqlite$/ }, () => ({
      path: src('sqlite/index.ts'),
    }))
    builder.onResolve({ filter: /\/crypto\/backend\.js$/ }, () => ({
      path: src('matrix/crypto/backend.node.ts'),
    }))
  },
}

async function bundleChild(): Promise<void> {
  mkdirSync(join(ROOT, 'node_modules', '.cache', 'mbu-crash'), { recursive: true })
  await build({
    entryPoints: [join(import.meta.dirname, 'crash-child.mjs')],
    outfile: CHILD,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['better-sqlite3'],
    plugins: [fromSources],
    logLevel: 'silent',
  })
}

/** A small seeded generator (mulberry32), so random kill moments replay from the seed. */
function random(seedValue: number): () => number {
  let state = seedValue >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
  }
}

const oldSeed = crypto.getRandomValues(new Uint8Array(32))
const newSeed = crypto.getRandomValues(new Uint8Array(32))
const keysEnv = JSON.stringify([encodeBase64(oldSeed), encodeBase64(newSeed)])

interface Seeded {
  /** Event ID to the stored text before any job ran. */
  readonly before: Map<string, string>
  readonly resignable: Set<string>
  readonly roomVersions: Map<string, string>
}

/** Our events in versions 1, 10 and 11, remote events, and local events the job must skip. */
async function seedEvents(homeserver: SqliteHomeserver): Promise<Seeded> {
  const { decodeSigningKeyBase64 } = await import('matrix-background-updates')
  const oldKey = decodeSigningKeyBase64('ed25519', 'old', encodeBase64(oldSeed))
  const newKey = decodeSigningKeyBase64('ed25519', 'new', encodeBase64(newSeed))
  const remoteKey = generateSigningKey('remote')
  const seeds: MemoryEventSeed[] = []
  const resignable = new Set<string>()
  const roomVersions = new Map<string, string>()
  const add = async (
    index: number,
    options: { server?: string; version?: string; kind?: string },
  ) => {
    const server = options.server ?? SERVER
    const version = options.version ?? '10'
    const originChosen = version === '1'
    const event: JsonObject = {
      type: 'm.room.message',
      room_id: `!room${version}:${SERVER}`,
      sender: `@user${index % 7}:${server}`,
      content: { msgtype: 'm.text', body: `message ${index}` },
      depth: index,
      prev_events: [],
      auth_events: [],
      origin_server_ts: 1_690_000_000_000 + index,
      ...(originChosen ? { event_id: `$${index}:${server}` } : {}),
    }
    const key = server !== SERVER ? remoteKey : options.kind === 'current' ? newKey : oldKey
    const signed = await signEvent(event, version, server, key)
    const eventId = originChosen ? `$${index}:${server}` : computeEventId(signed, version)
    const broken = options.kind === 'malformed'
    seeds.push({
      ...(broken ? { json: `${JSON.stringify(signed).slice(0, 40)}` } : { event: signed }),
      event_id: eventId,
      sender: signed.sender as string,
      stream_ordering: index,
      room_version: version,
      rejected: options.kind === 'rejected',
    })
    roomVersions.set(eventId, version)
    if (server === SERVER && options.kind === undefined) resignable.add(eventId)
  }
  for (let index = 1; index <= 2_000; index++) {
    const kind =
      index % 97 === 0
        ? 'malformed'
        : index % 89 === 0
          ? 'rejected'
          : index % 83 === 0
            ? 'current'
            : undefined
    const server = index % 10 === 0 ? 'remote.example' : SERVER
    const version = index % 13 === 0 ? '1' : index % 5 === 0 ? '11' : '10'
    await add(index, { server, version, kind })
  }
  await homeserver.addEvents(seeds)
  const before = new Map<string, string>()
  for (const item of seeds)
    before.set(
      item.event_id as string,
      (await homeserver.storedJson(item.event_id as string)) as string,
    )
  return { before, resignable, roomVersions }
}

/** A fresh SQLite file with the events seeded. */
async function freshDatabase(): Promise<{ path: string; seeded: Seeded; cleanup: () => void }> {
  const directory = mkdtempSync(join(tmpdir(), 'mbu-crash-'))
  const path = join(directory, 'homeserver.db')
  const storage = new SqliteStorageAdapter({ database: path, tablePrefix: 'mbu_' })
  await storage.migrate()
  const seeded = await seedEvents(new SqliteHomeserver(storage))
  await storage.close()
  return { path, seeded, cleanup: () => rmSync(directory, { recursive: true, force: true }) }
}

/** Queues a job as an admin would, from another process's point of view. */
async function queue(path: string, job: 'event_resign' | 'event_resign_revert') {
  const storage = new SqliteStorageAdapter({ database: path, tablePrefix: 'mbu_' })
  const runner = new BackgroundUpdateRunner({ storage })
  const keyProvider = new MemoryKeyProvider(generateSigningKey('unused'))
  const options = { serverName: SERVER, keyProvider }
  if (job === 'event_resign') runner.registerJob(eventResignJob(options))
  else runner.registerJob(eventResignRevertJob(options))
  await runner.startJob(job, {})
  await storage.close()
}

interface ChildExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stderr: string
}

/**
 * Runs the child. With `killAfterMs`, kills it that long after it reports its first committed
 * batch (it may also finish first).
 */
function runChild(
  path: string,
  job: string,
  failPoint?: { point: string; at: number },
  killAfterMs?: number,
): Promise<ChildExit> {
  const env = {
    ...process.env,
    CRASH_DB: path,
    CRASH_KEYS: keysEnv,
    CRASH_JOB: job,
    CRASH_POINT: failPoint?.point ?? '',
    CRASH_AT: String(failPoint?.at ?? 1),
  }
  const child = spawn(process.execPath, [CHILD], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  let timer: NodeJS.Timeout | undefined
  child.stderr.on('data', (chunk) => {
    stderr += chunk
  })
  child.stdout.on('data', () => {
    if (killAfterMs !== undefined && timer === undefined) {
      timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs)
    }
  })
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stderr })
    })
  })
}

/** Runs children until one completes the job (exit 0), expecting no other way of ending. */
async function runToCompletion(path: string, job: string): Promise<void> {
  const exit = await runChild(path, job)
  expect(exit).toEqual({ code: 0, signal: null, stderr: '' })
}

function readDatabase(path: string) {
  const db = new Database(path, { readonly: true })
  try {
    const rows = db.prepare('SELECT event_id, json FROM mbu_event_json').all() as Array<{
      event_id: string
      json: string
    }>
    const events = db.prepare('SELECT COUNT(*) AS n FROM mbu_events').get() as { n: number }
    const undo = db.prepare('SELECT event_id FROM mbu_event_resign_undo_log').all() as Array<{
      event_id: string
    }>
    const queued = db.prepare('SELECT update_name FROM mbu_background_updates').all()
    return { rows, eventCount: events.n, undo: undo.map((row) => row.event_id), queued }
  } finally {
    db.close()
  }
}

/** No event missing or duplicated, the update gone from the queue. */
function expectSameEvents(path: string, seeded: Seeded) {
  const state = readDatabase(path)
  expect(state.queued).toEqual([])
  expect(state.eventCount).toBe(seeded.before.size)
  expect(state.rows.map((row) => row.event_id).sort()).toEqual([...seeded.before.keys()].sort())
  return { texts: new Map(state.rows.map((row) => [row.event_id, row.json])), undo: state.undo }
}

/** After event_resign: ours re-signed exactly once by the new key, everything else byte-identical. */
async function expectResigned(path: string, seeded: Seeded) {
  const { texts, undo } = expectSameEvents(path, seeded)
  const { decodeSigningKeyBase64 } = await import('matrix-background-updates')
  const newKey = decodeSigningKeyBase64('ed25519', 'new', encodeBase64(newSeed))
  for (const [eventId, original] of seeded.before) {
    const text = texts.get(eventId) as string
    if (!seeded.resignable.has(eventId)) {
      expect(text).toBe(original)
      continue
    }
    const version = seeded.roomVersions.get(eventId) as string
    const event = JSON.parse(text)
    const before = JSON.parse(original)
    expect(Object.keys(event.signatures[SERVER])).toEqual([newKey.keyId])
    expect(await verifyEventSignature(event, version, SERVER, newKey.verifyKey)).toBe(true)
    expect(computeContentHash(event)).toBe(computeContentHash(before))
    if (version !== '1') expect(computeEventId(event, version)).toBe(eventId)
    expect({ ...event, signatures: null }).toEqual({ ...before, signatures: null })
  }
  expect(undo.sort()).toEqual([...seeded.resignable].sort())
}

/** After the revert: every event as it was before the re-sign, the undo log empty. */
function expectReverted(path: string, seeded: Seeded) {
  const { texts, undo } = expectSameEvents(path, seeded)
  for (const [eventId, original] of seeded.before) {
    const text = texts.get(eventId) as string
    if (seeded.resignable.has(eventId)) expect(JSON.parse(text)).toEqual(JSON.parse(original))
    else expect(text).toBe(original)
  }
  expect(undo).toEqual([])
}

/** Each fail point hit three times, at varying occurrences; then the final one three times. */
async function crashAtFailPoints(
  path: string,
  job: string,
  next: () => number,
  hits: Map<string, number>,
) {
  for (const point of FAIL_POINTS) {
    for (let round = 0; round < 3; round++) {
      const at = 1 + Math.floor(next() * 3)
      const exit = await runChild(path, job, { point, at })
      expect(exit.signal, `${job} at ${point} #${at}: ${exit.stderr}`).toBe('SIGKILL')
      hits.set(`${job} ${point}`, (hits.get(`${job} ${point}`) ?? 0) + 1)
    }
  }
  for (let round = 0; round < 3; round++) {
    if (round > 0) await queue(path, job as 'event_resign')
    const exit = await runChild(path, job, { point: 'after-final-commit', at: 1 })
    expect(exit.signal, exit.stderr).toBe('SIGKILL')
    hits.set(`${job} after-final-commit`, (hits.get(`${job} after-final-commit`) ?? 0) + 1)
    await runToCompletion(path, job)
  }
}

/**
 * Kills children at random moments of their work until one completes the job; returns how many
 * were killed.
 */
async function crashAtRandom(path: string, job: string, next: () => number): Promise<number> {
  let killed = 0
  for (let attempt = 0; attempt < 40; attempt++) {
    const exit = await runChild(path, job, undefined, Math.floor(next() * 60))
    if (exit.signal !== 'SIGKILL') {
      expect(exit).toEqual({ code: 0, signal: null, stderr: '' })
      return killed
    }
    killed++
  }
  throw new Error(`${job} did not complete after 40 children`)
}

/**
 * Rounds over fresh files: event_resign and then its revert killed at random moments and checked,
 * until each was killed as often as `kills` asks.
 */
async function randomRounds(
  kills: { resign: number; revert: number },
  next: () => number,
  cleanups: Array<() => void>,
): Promise<{ resign: number; revert: number }> {
  const total = { resign: 0, revert: 0 }
  const short = () => total.resign < kills.resign || total.revert < kills.revert
  for (let round = 0; round < 20 && short(); round++) {
    const { path, seeded, cleanup } = await freshDatabase()
    cleanups.push(cleanup)
    await queue(path, 'event_resign')
    total.resign += await crashAtRandom(path, 'event_resign', next)
    await expectResigned(path, seeded)
    await queue(path, 'event_resign_revert')
    total.revert += await crashAtRandom(path, 'event_resign_revert', next)
    expectReverted(path, seeded)
  }
  return total
}

describe('crash recovery over SQLite', () => {
  const cleanups: Array<() => void> = [() => rmSync(CHILD, { force: true })]
  beforeAll(bundleChild)
  afterAll(() => {
    for (const cleanup of cleanups) cleanup()
  })

  it('loses nothing when event_resign and its revert are killed at each fail point', async () => {
    const { path, seeded, cleanup } = await freshDatabase()
    cleanups.push(cleanup)
    const hits = new Map<string, number>()
    const next = random(seed)

    await queue(path, 'event_resign')
    await crashAtFailPoints(path, 'event_resign', next, hits)
    await expectResigned(path, seeded)
    await queue(path, 'event_resign_revert')
    await crashAtFailPoints(path, 'event_resign_revert', next, hits)
    expectReverted(path, seeded)

    expect([...hits.values()].every((count) => count >= 3)).toBe(true)
    expect(hits.size).toBe(8)
  }, 300_000)

  it(`loses nothing when killed at random moments (seed ${seed})`, async () => {
    console.info(`crash test seed: ${seed} (replay with CRASH_SEED=${seed})`)

    // Two chains of files side by side, each with its own random sequence.
    const wanted = { resign: 10, revert: 5 }
    const chains = await Promise.all([
      randomRounds(wanted, random(seed + 1), cleanups),
      randomRounds(wanted, random(seed + 2), cleanups),
    ])

    expect(chains.reduce((sum, chain) => sum + chain.resign, 0)).toBeGreaterThanOrEqual(20)
    expect(chains.reduce((sum, chain) => sum + chain.revert, 0)).toBeGreaterThanOrEqual(10)
  }, 600_000)
})
