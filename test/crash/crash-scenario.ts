/**
 * The crash-recovery scenario, shared by the SQLite and the PostgreSQL suites: event_resign, then
 * event_resign_revert, run in child processes that are SIGKILLed at fail points (in the middle of
 * applying writes, just before commit, just after commit, after the final commit and before
 * `update:complete`) and at random moments, then restarted, until the job completes. Every event
 * is then checked. The seed of the random moments is printed; `CRASH_SEED=<seed>` replays them.
 *
 * A {@link CrashBackend} says how to make a fresh store, open it in this process, read it back and
 * tell the child (`CRASH_ADAPTER` and the variables of {@link CrashStore.env}) where it is.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { build, type Plugin } from 'esbuild'
import {
  BackgroundUpdateRunner,
  computeContentHash,
  computeEventId,
  decodeSigningKeyBase64,
  encodeBase64,
  eventResignJob,
  eventResignRevertJob,
  generateSigningKey,
  type JsonObject,
  type MemoryEventSeed,
  MemoryKeyProvider,
  type StorageAdapter,
  signEvent,
  verifyEventSignature,
} from 'matrix-background-updates'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const SERVER = 'crash.example'
const ROOT = join(import.meta.dirname, '..', '..')
const FAIL_POINTS = ['mid-apply', 'before-commit', 'after-commit'] as const
/** Events seeded per store: "a few thousand", kept at the low end so both adapters fit in time. */
const EVENTS = 2_000
type Job = 'event_resign' | 'event_resign_revert'

/** An adapter opened in the test process, with the homeserver view that seeds and reads it. */
export interface OpenedStore {
  readonly storage: StorageAdapter & { migrate(): Promise<unknown>; close(): Promise<void> | void }
  readonly homeserver: {
    addEvents(seeds: readonly MemoryEventSeed[]): Promise<void>
    storedJson(eventId: string): Promise<string | undefined>
  }
}

/** What the end checks read back, straight from the tables. */
export interface StoredState {
  readonly rows: ReadonlyArray<{ event_id: string; json: string }>
  readonly eventCount: number
  readonly undo: readonly string[]
  readonly queued: readonly unknown[]
}

/** One fresh, empty store (a SQLite file, a PostgreSQL schema). */
export interface CrashStore {
  /** Tells the child where the store is. */
  readonly env: Readonly<Record<string, string>>
  open(): OpenedStore
  read(): Promise<StoredState>
  cleanup(): Promise<void>
}

export interface CrashBackend {
  /** For test names: `SQLite`, `PostgreSQL`. */
  readonly label: string
  /** Passed to the child as `CRASH_ADAPTER`. */
  readonly adapter: 'sqlite' | 'postgres'
  /**
   * Random kills land up to this long after a child's first committed batch: about a tenth of a
   * whole job's work, so every killed child moves the job on and a job takes some ten children.
   */
  readonly killWindowMs: number
  /** Why the suite is skipped, or null. */
  skipReason(): Promise<string | null>
  /** Runs once before the suite (e.g. creates the run's database); returns its undo. */
  setup(): Promise<() => Promise<void>>
  /** A fresh, empty store. */
  fresh(): Promise<CrashStore>
}

/** Resolves the package to its sources, with the node:crypto backend, as the `node` build does. */
const fromSources: Plugin = {
  name: 'from-sources',
  setup(builder) {
    const src = (path: string) => join(ROOT, 'src', path)
    builder.onResolve({ filter: /^matrix-background-updates$/ }, () => ({ path: src('index.ts') }))
    builder.onResolve({ filter: /^matrix-background-updates\/(sqlite|postgres)$/ }, (args) => ({
      path: src(`${args.path.slice('matrix-background-updates/'.length)}/index.ts`),
    }))
    builder.onResolve({ filter: /\/crypto\/backend\.js$/ }, () => ({
      path: src('matrix/crypto/backend.node.ts'),
    }))
  },
}

/** Bundles the child from the sources (not dist/, which another build may be rewriting). */
async function bundleChild(backend: CrashBackend): Promise<string> {
  const directory = join(ROOT, 'node_modules', '.cache', 'mbu-crash')
  const outfile = join(directory, `child-${backend.adapter}-${process.pid}.mjs`)
  mkdirSync(directory, { recursive: true })
  await build({
    entryPoints: [join(import.meta.dirname, 'crash-child.mjs')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['better-sqlite3', 'pg'],
    plugins: [fromSources],
    logLevel: 'silent',
  })
  return outfile
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
const oldKey = decodeSigningKeyBase64('ed25519', 'old', encodeBase64(oldSeed))
const newKey = decodeSigningKeyBase64('ed25519', 'new', encodeBase64(newSeed))

interface Seeded {
  /** Event ID to the stored text before any job ran. */
  readonly before: Map<string, string>
  readonly resignable: Set<string>
  readonly roomVersions: Map<string, string>
}

/** One event of the data set: ours in versions 1, 10 and 11, remote ones, ones to skip. */
async function eventSeed(index: number, remoteKey: typeof oldKey) {
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
  const chosenId = version === '1' ? `$${index}:${server}` : undefined
  const event: JsonObject = {
    type: 'm.room.message',
    room_id: `!room${version}:${SERVER}`,
    sender: `@user${index % 7}:${server}`,
    content: { msgtype: 'm.text', body: `message ${index}` },
    depth: index,
    prev_events: [],
    auth_events: [],
    origin_server_ts: 1_690_000_000_000 + index,
    ...(chosenId ? { event_id: chosenId } : {}),
  }
  const key = server !== SERVER ? remoteKey : kind === 'current' ? newKey : oldKey
  const signed = await signEvent(event, version, server, key)
  const eventId = chosenId ?? computeEventId(signed, version)
  const seed: MemoryEventSeed = {
    ...(kind === 'malformed' ? { json: JSON.stringify(signed).slice(0, 40) } : { event: signed }),
    event_id: eventId,
    sender: signed.sender as string,
    stream_ordering: index,
    room_version: version,
    rejected: kind === 'rejected',
  }
  return { seed, eventId, version, resignable: server === SERVER && kind === undefined }
}

/** A fresh store of the backend, migrated and seeded. */
async function seededStore(backend: CrashBackend): Promise<{ store: CrashStore; seeded: Seeded }> {
  const store = await backend.fresh()
  const { storage, homeserver } = store.open()
  try {
    await storage.migrate()
    const remoteKey = generateSigningKey('remote')
    const seeds: MemoryEventSeed[] = []
    const seeded: Seeded = { before: new Map(), resignable: new Set(), roomVersions: new Map() }
    for (let index = 1; index <= EVENTS; index++) {
      const one = await eventSeed(index, remoteKey)
      seeds.push(one.seed)
      seeded.roomVersions.set(one.eventId, one.version)
      if (one.resignable) seeded.resignable.add(one.eventId)
    }
    await homeserver.addEvents(seeds)
    for (const eventId of seeded.roomVersions.keys()) {
      seeded.before.set(eventId, (await homeserver.storedJson(eventId)) as string)
    }
    return { store, seeded }
  } finally {
    await storage.close()
  }
}

/** Queues a job as an admin would, from another process's point of view. */
async function queue(store: CrashStore, job: Job): Promise<void> {
  const { storage } = store.open()
  try {
    const runner = new BackgroundUpdateRunner({ storage })
    const options = { serverName: SERVER, keyProvider: new MemoryKeyProvider(newKey) }
    if (job === 'event_resign') runner.registerJob(eventResignJob(options))
    else runner.registerJob(eventResignRevertJob(options))
    await runner.startJob(job, {})
  } finally {
    await storage.close()
  }
}

interface ChildExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stderr: string
}

/** The suite's state: the bundled child and where its stores live. */
interface Context {
  readonly backend: CrashBackend
  readonly child: string
}

/**
 * Runs the child. With `killAfterMs`, kills it that long after it reports its first committed
 * batch (it may also finish first).
 */
function runChild(
  context: Context,
  store: CrashStore,
  job: Job,
  failPoint?: { point: string; at: number },
  killAfterMs?: number,
): Promise<ChildExit> {
  const env = {
    ...process.env,
    ...store.env,
    CRASH_ADAPTER: context.backend.adapter,
    CRASH_KEYS: keysEnv,
    CRASH_JOB: job,
    CRASH_POINT: failPoint?.point ?? '',
    CRASH_AT: String(failPoint?.at ?? 1),
  }
  const child = spawn(process.execPath, [context.child], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
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

/** Runs a child that must complete the job (exit 0), with nothing on stderr. */
async function runToCompletion(context: Context, store: CrashStore, job: Job): Promise<void> {
  const exit = await runChild(context, store, job)
  expect(exit).toEqual({ code: 0, signal: null, stderr: '' })
}

/** No event missing or duplicated, the update gone from the queue. */
async function expectSameEvents(store: CrashStore, seeded: Seeded) {
  const state = await store.read()
  expect(state.queued).toEqual([])
  expect(state.eventCount).toBe(seeded.before.size)
  expect(state.rows.map((row) => row.event_id).sort()).toEqual([...seeded.before.keys()].sort())
  return { texts: new Map(state.rows.map((row) => [row.event_id, row.json])), undo: state.undo }
}

/** After event_resign: ours re-signed exactly once by the new key, everything else byte-identical. */
async function expectResigned(store: CrashStore, seeded: Seeded): Promise<void> {
  const { texts, undo } = await expectSameEvents(store, seeded)
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
  expect([...undo].sort()).toEqual([...seeded.resignable].sort())
}

/** After the revert: every event as it was before the re-sign, the undo log empty. */
async function expectReverted(store: CrashStore, seeded: Seeded): Promise<void> {
  const { texts, undo } = await expectSameEvents(store, seeded)
  for (const [eventId, original] of seeded.before) {
    const text = texts.get(eventId) as string
    if (seeded.resignable.has(eventId)) expect(JSON.parse(text)).toEqual(JSON.parse(original))
    else expect(text).toBe(original)
  }
  expect(undo).toEqual([])
}

/** Each fail point hit three times, at varying occurrences; then the final one three times. */
async function crashAtFailPoints(
  context: Context,
  store: CrashStore,
  job: Job,
  next: () => number,
  hits: Map<string, number>,
): Promise<void> {
  const hit = (point: string) => hits.set(`${job} ${point}`, (hits.get(`${job} ${point}`) ?? 0) + 1)
  for (const point of FAIL_POINTS) {
    for (let round = 0; round < 3; round++) {
      const at = 1 + Math.floor(next() * 3)
      const exit = await runChild(context, store, job, { point, at })
      expect(exit.signal, `${job} at ${point} #${at}: ${exit.stderr}`).toBe('SIGKILL')
      hit(point)
    }
  }
  for (let round = 0; round < 3; round++) {
    if (round > 0) await queue(store, job)
    const exit = await runChild(context, store, job, { point: 'after-final-commit', at: 1 })
    expect(exit.signal, exit.stderr).toBe('SIGKILL')
    hit('after-final-commit')
    await runToCompletion(context, store, job)
  }
}

/**
 * Kills children at random moments of their work until one completes the job; returns how many
 * were killed.
 */
async function crashAtRandom(
  context: Context,
  store: CrashStore,
  job: Job,
  next: () => number,
): Promise<number> {
  let killed = 0
  for (let attempt = 0; attempt < 40; attempt++) {
    const killAfterMs = Math.floor(next() * context.backend.killWindowMs)
    const exit = await runChild(context, store, job, undefined, killAfterMs)
    if (exit.signal !== 'SIGKILL') {
      expect(exit).toEqual({ code: 0, signal: null, stderr: '' })
      return killed
    }
    killed++
  }
  throw new Error(`${job} did not complete after 40 children`)
}

/**
 * Rounds over fresh stores: event_resign and then its revert killed at random moments and
 * checked, until each was killed as often as `kills` asks.
 */
async function randomRounds(
  context: Context,
  kills: { resign: number; revert: number },
  next: () => number,
  cleanups: Array<() => Promise<void>>,
): Promise<{ resign: number; revert: number }> {
  const total = { resign: 0, revert: 0 }
  const short = () => total.resign < kills.resign || total.revert < kills.revert
  for (let round = 0; round < 20 && short(); round++) {
    const { store, seeded } = await seededStore(context.backend)
    cleanups.push(() => store.cleanup())
    await queue(store, 'event_resign')
    total.resign += await crashAtRandom(context, store, 'event_resign', next)
    await expectResigned(store, seeded)
    await queue(store, 'event_resign_revert')
    total.revert += await crashAtRandom(context, store, 'event_resign_revert', next)
    await expectReverted(store, seeded)
  }
  return total
}

/** The crash-recovery suite over one backend. */
export async function describeCrashRecovery(backend: CrashBackend): Promise<void> {
  const skip = await backend.skipReason()
  const seed = Number(process.env.CRASH_SEED ?? Date.now() % 2 ** 31)

  // The two tests side by side: the children spend most of their time waiting out the lease.
  describe.skipIf(skip !== null).concurrent(`crash recovery over ${backend.label}`, () => {
    const cleanups: Array<() => Promise<void>> = []
    let context: Context

    beforeAll(async () => {
      const child = await bundleChild(backend)
      cleanups.push(async () => rmSync(child, { force: true }))
      cleanups.push(await backend.setup())
      context = { backend, child }
    })
    afterAll(async () => {
      // Stores first, then what holds them (the run's database), then the child.
      for (const cleanup of cleanups.reverse()) await cleanup()
    })

    it('loses nothing when event_resign and its revert are killed at each fail point', async () => {
      const { store, seeded } = await seededStore(backend)
      cleanups.push(() => store.cleanup())
      const hits = new Map<string, number>()
      const next = random(seed)

      await queue(store, 'event_resign')
      await crashAtFailPoints(context, store, 'event_resign', next, hits)
      await expectResigned(store, seeded)
      await queue(store, 'event_resign_revert')
      await crashAtFailPoints(context, store, 'event_resign_revert', next, hits)
      await expectReverted(store, seeded)

      console.info(`${backend.label} fail points hit: ${JSON.stringify(Object.fromEntries(hits))}`)
      expect([...hits.values()].every((count) => count >= 3)).toBe(true)
      expect(hits.size).toBe(8)
    }, 300_000)

    it(`loses nothing when killed at random moments (seed ${seed})`, async () => {
      console.info(`${backend.label} crash test seed: ${seed} (replay with CRASH_SEED=${seed})`)

      // Two chains of stores side by side, each with its own random sequence.
      const wanted = { resign: 10, revert: 5 }
      const chains = await Promise.all([
        randomRounds(context, wanted, random(seed + 1), cleanups),
        randomRounds(context, wanted, random(seed + 2), cleanups),
      ])

      console.info(`${backend.label} random kills per chain: ${JSON.stringify(chains)}`)
      expect(chains.reduce((sum, chain) => sum + chain.resign, 0)).toBeGreaterThanOrEqual(20)
      expect(chains.reduce((sum, chain) => sum + chain.revert, 0)).toBeGreaterThanOrEqual(10)
    }, 600_000)
  })
}
