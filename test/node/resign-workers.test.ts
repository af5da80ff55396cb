/**
 * resignWorkers(): the re-sign pipeline on worker threads gives exactly the outcomes of the calling
 * thread, over a varied data set, both signers and one or two threads; EventResigner checks what
 * an offload answers; a worker that dies fails its batch and is replaced; idle workers let the
 * process end.
 *
 * Worker threads cannot run TypeScript, so every pool runs the built dist/resign-worker.js
 * (`npm test` builds it first). The sodium suites skip with a notice when sodium-native cannot
 * load, and fail under `CI=true`.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import {
  computeEventId,
  EventResigner,
  generateSigningKey,
  type JsonObject,
  type MemoryEventSeed,
  MemoryKeyProvider,
  type OffloadedOutcome,
  type ResignOffload,
  type ResignOffloadRequest,
  type ResignOutcome,
  type ResignTextOutcome,
  SignerError,
  type SigningKey,
  type StoredEvent,
  type StoredEventText,
  signEvent,
  type VerifyKey,
  verifyEventSignature,
} from 'matrix-background-updates'
import {
  type ResignWorkers,
  type ResignWorkersOptions,
  resignWorkers,
} from 'matrix-background-updates/node'
import { generateDataSet } from 'matrix-background-updates/testing'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { describeWhenAvailable } from '../describe-when-available.js'

const run = promisify(execFile)

/** The built worker module; the default one sits beside src/node/resign-workers.ts, unbuilt. */
const WORKER_MODULE = new URL('../../dist/resign-worker.js', import.meta.url)

/** The built entries, for a child process to load as a host would. */
const NODE_ENTRY = new URL('../../dist/node.js', import.meta.url).href
const ROOT_ENTRY = new URL('../../dist/index.node.js', import.meta.url).href

function workers(options: ResignWorkersOptions = {}): ResignWorkers {
  return resignWorkers({ workerModule: WORKER_MODULE, ...options })
}

/** A directory of this file's own, for worker modules and scripts written by the tests. */
const scratch = mkdtempSync(join(tmpdir(), 'resign-workers-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

function scratchFile(name: string, text: string): URL {
  const path = join(scratch, name)
  writeFileSync(path, text)
  return pathToFileURL(path)
}

/** Why a pool cannot sign with sodium-native here, or undefined when it can. */
function sodiumProblem(): string | undefined {
  try {
    void resignWorkers({ signer: 'sodium', threads: 1 }).close()
    return undefined
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  }
}

const sodiumMissing = sodiumProblem()

/**
 * `describe`, when sodium-native loads. Otherwise the suite is skipped with a notice on the
 * console, or, under `CI=true`, replaced by a failing test that gives the reason.
 */
function describeWithSodium(name: string, fn: () => void): void {
  const missing =
    sodiumMissing === undefined ? undefined : `sodium-native cannot load (${sodiumMissing})`
  describeWhenAvailable(name, missing, 'has sodium-native to sign with', fn)
}

const newKey = generateSigningKey('new')
/** Another key under the data set's old key id, whose signatures the `old_key` filter refuses. */
const strangerKey = generateSigningKey('old')

interface Fixture {
  readonly serverName: string
  /** The key that signed the data set's local events. */
  readonly oldKey: SigningKey
  readonly texts: readonly StoredEventText[]
}

/** A provider that signed with `oldKey` and now signs with `current`. */
function rotatedProvider(oldKey: SigningKey, current: SigningKey = newKey): MemoryKeyProvider {
  const provider = new MemoryKeyProvider(oldKey)
  provider.rotate(current, 1_700_000_000_000)
  return provider
}

function textOf(seed: MemoryEventSeed): StoredEventText {
  return {
    json: seed.json ?? JSON.stringify(seed.event),
    roomVersion: seed.room_version ?? '',
    eventId: seed.event_id,
  }
}

/** Every event of a generated data set, local and remote, stored redacted and malformed rows too. */
async function generatedTexts() {
  const seeds: MemoryEventSeed[] = []
  const target = {
    addEvents: (chunk: readonly MemoryEventSeed[]) => {
      seeds.push(...chunk)
    },
    setRoomState: () => {},
    addUsers: () => {},
    setStreamPosition: () => {},
  }
  const summary = await generateDataSet(target, {
    seed: 11,
    rooms: 24,
    messages: 90,
    redactedShare: 0.2,
    malformedRows: true,
  })
  return { summary, texts: seeds.map(textOf) }
}

/** Cases the data set does not have, one for each way an event may be left alone, and a few more. */
async function handMadeTexts(serverName: string, oldKey: SigningKey): Promise<StoredEventText[]> {
  const message = (body: string, extra: JsonObject = {}): JsonObject => ({
    type: 'm.room.message',
    room_id: `!edges:${serverName}`,
    sender: `@edge:${serverName}`,
    content: { msgtype: 'm.text', body },
    depth: 3,
    prev_events: [],
    auth_events: [],
    origin_server_ts: 1_700_000_000_000,
    ...extra,
  })
  const v10 = async (event: JsonObject, key: SigningKey) => {
    const signed = await signEvent(event, '10', serverName, key)
    return { json: JSON.stringify(signed), eventId: computeEventId(signed, '10'), signed }
  }
  const plain = await v10(message('plain'), oldKey)
  const current = await v10(message('current'), newKey)
  const stranger = await v10(message('stranger'), strangerKey)
  // An own "__proto__" key and characters JSON escapes differently from canonical JSON.
  const content = JSON.parse('{"__proto__": {"x": 1}, "body": "ünï \\u2028 😀 \\"q\\""}')
  const unusual = await v10(message('unusual', { content }), oldKey)
  const v1Event = await signEvent(
    message('v1', { event_id: `$v1:${serverName}` }),
    '1',
    serverName,
    oldKey,
  )
  const huge = plain.json.replace('"depth":3', '"depth":9007199254740993')

  return [
    { json: '{"type": "m.room.message", "content": {', roomVersion: '10', eventId: '$not-json' },
    { json: plain.json, roomVersion: '99', eventId: plain.eventId },
    { json: current.json, roomVersion: '10', eventId: current.eventId },
    { json: stranger.json, roomVersion: '10', eventId: stranger.eventId },
    { json: unusual.json, roomVersion: '10', eventId: unusual.eventId },
    {
      json: JSON.stringify({ ...plain.signed, event_id: '$inside' }),
      roomVersion: '10',
      eventId: plain.eventId,
    },
    { json: plain.json, roomVersion: '10', eventId: '$filed-elsewhere' },
    { json: plain.json, roomVersion: '10' },
    { json: JSON.stringify(v1Event), roomVersion: '1' },
    { json: huge, roomVersion: '10', eventId: plain.eventId },
    { json: '[1, 2]', roomVersion: '10', eventId: '$array' },
  ]
}

let fixturePromise: Promise<Fixture> | undefined

/** The data every test decides, made once. */
function fixture(): Promise<Fixture> {
  fixturePromise ??= (async () => {
    const { summary, texts } = await generatedTexts()
    const edges = await handMadeTexts(summary.serverName, summary.oldKey)
    // The hand-made cases sit among the generated ones, so that chunks mix them.
    const mixed = [...texts.slice(0, 40), ...edges, ...texts.slice(40)]
    return { serverName: summary.serverName, oldKey: summary.oldKey, texts: mixed }
  })()
  return fixturePromise
}

/** The texts that parse, as parsed events; each call parses them afresh. */
function parsedEvents(texts: readonly StoredEventText[]): StoredEvent[] {
  const events: StoredEvent[] = []
  for (const { json, roomVersion, eventId } of texts) {
    try {
      events.push({ event: JSON.parse(json), roomVersion, eventId })
    } catch {
      // A text that is not JSON has no parsed form: only resignTexts() is given it.
    }
  }
  return events
}

type Method = 'resign' | 'resignTexts'

/** Runs one batch of the fixture through `resigner`, by parsed events or by stored texts. */
function decide(
  resigner: EventResigner,
  method: Method,
  texts: readonly StoredEventText[],
  oldKey: VerifyKey | undefined,
): Promise<ResignOutcome[] | ResignTextOutcome[]> {
  if (method === 'resign') return resigner.resign(parsedEvents(texts), { oldKey })
  return resigner.resignTexts(texts, { oldKey })
}

function inThread(data: Fixture, provider = rotatedProvider(data.oldKey)): EventResigner {
  return new EventResigner({ keyProvider: provider, serverName: data.serverName })
}

function offloaded(
  data: Fixture,
  offload: ResignOffload,
  provider = rotatedProvider(data.oldKey),
): EventResigner {
  return new EventResigner({ keyProvider: provider, serverName: data.serverName, offload })
}

const baselines = new Map<string, Promise<ResignOutcome[] | ResignTextOutcome[]>>()

/** What the calling thread decides for the fixture, computed once per method and filter. */
async function baseline(method: Method, withOldKey: boolean) {
  const data = await fixture()
  const key = `${method} ${withOldKey}`
  let outcomes = baselines.get(key)
  if (outcomes === undefined) {
    const oldKey = withOldKey ? data.oldKey.verifyKey : undefined
    outcomes = decide(inThread(data), method, data.texts, oldKey)
    baselines.set(key, outcomes)
  }
  return outcomes
}

/** Equal as values, and as text: the order of keys is part of a stored event. */
function expectSameOutcomes(actual: readonly unknown[], expected: readonly unknown[]): void {
  expect(actual).toEqual(expected)
  expect(JSON.stringify(actual)).toBe(JSON.stringify(expected))
}

type Answers = ReadonlyArray<OffloadedOutcome | undefined>

/** An offload that passes batches on to `inner` and keeps each request and its answers. */
function watched(inner: ResignOffload) {
  const calls: Array<{ request: ResignOffloadRequest; answers: Answers }> = []
  const offload: ResignOffload = {
    async resignBatch(request) {
      const answers = await inner.resignBatch(request)
      calls.push({ request, answers })
      return answers
    },
  }
  return { offload, calls }
}

/** An offload without workers: `answer` makes its answers from each request. */
function fakeOffload(answer: (request: ResignOffloadRequest) => unknown) {
  const requests: ResignOffloadRequest[] = []
  const offload: ResignOffload = {
    async resignBatch(request) {
      requests.push(request)
      return answer(request) as Answers
    },
  }
  return { offload, requests }
}

/** The calling thread's answers to a request, as an offload gives them. */
async function answersOf(
  resigner: EventResigner,
  request: ResignOffloadRequest,
  oldKey?: VerifyKey,
): Promise<OffloadedOutcome[]> {
  if (request.kind === 'texts') return resigner.resignTexts(request.texts, { oldKey })

  const outcomes = await resigner.resign(request.events, { oldKey })
  return outcomes.map((outcome) => {
    if (outcome.status !== 'resigned') return outcome
    const { event, ...rest } = outcome
    const ours = (event.signatures as Record<string, JsonObject>)[request.serverName] ?? {}
    return { ...rest, signature: ours[outcome.keyId] as string }
  })
}

/** The error a promise rejects with, checked to be a SignerError with `message`. */
async function expectSignerError(promise: Promise<unknown>, message: string): Promise<SignerError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  )
  expect(error).toBeInstanceOf(SignerError)
  expect((error as SignerError).message).toBe(message)
  return error as SignerError
}

function statusesOf(outcomes: readonly { status: string }[]): Set<string> {
  return new Set(outcomes.map((outcome) => outcome.status))
}

describe('the data set the workers are compared on', () => {
  it('reaches every outcome, without old_key and with it', async () => {
    const without = await baseline('resignTexts', false)
    const withOldKey = await baseline('resignTexts', true)

    expect(statusesOf(without)).toEqual(
      new Set([
        'resigned',
        'not-ours',
        'already-current',
        'unprovable',
        'unknown-room-version',
        'malformed',
      ]),
    )
    expect(statusesOf(withOldKey)).toContain('old-key-mismatch')
    expect(without.filter((outcome) => outcome.status === 'resigned').length).toBeGreaterThan(100)
  })
})

const POOLS: ReadonlyArray<ResignWorkersOptions & { signer: 'node' | 'sodium'; threads: number }> =
  [
    { signer: 'node', threads: 1 },
    { signer: 'node', threads: 2, chunkSize: 7, concurrency: 3 },
    { signer: 'sodium', threads: 1, chunkSize: 7 },
    { signer: 'sodium', threads: 2 },
  ]

for (const options of POOLS) {
  const chunks = options.chunkSize === undefined ? '' : `, chunks of ${options.chunkSize}`
  const name = `resignWorkers with ${options.signer}, ${options.threads} thread(s)${chunks}`
  const describeFor = options.signer === 'sodium' ? describeWithSodium : describe

  describeFor(name, () => {
    let pool: ResignWorkers
    beforeAll(() => {
      pool = workers(options)
    })
    afterAll(() => pool.close())

    it('uses the signer and the threads it was asked for', () => {
      expect(pool.signer).toBe(options.signer)
      expect(pool.threads).toBe(options.threads)
    })

    for (const method of ['resign', 'resignTexts'] as const) {
      for (const withOldKey of [false, true]) {
        const filter = withOldKey ? 'with old_key' : 'without old_key'

        it(`gives ${method}() the outcomes of the calling thread, ${filter}`, async () => {
          const data = await fixture()
          const { offload, calls } = watched(pool)
          const oldKey = withOldKey ? data.oldKey.verifyKey : undefined

          const outcomes = await decide(offloaded(data, offload), method, data.texts, oldKey)

          expect(calls.map((call) => call.request.kind)).toEqual([
            method === 'resign' ? 'events' : 'texts',
          ])
          expect(calls[0]?.answers).not.toContain(undefined)
          expectSameOutcomes(outcomes, await baseline(method, withOldKey))
        })
      }
    }
  })
}

describe('an offload the calling thread helps (callerHelps)', () => {
  /** Passes chunks on to `inner` and keeps their sizes; `callerHelps` as given. */
  function helped(inner: ResignOffload, callerHelps: ResignOffload['callerHelps']) {
    const sizes: number[] = []
    const offload: ResignOffload = {
      callerHelps,
      resignBatch(request) {
        sizes.push(request.kind === 'events' ? request.events.length : request.texts.length)
        return inner.resignBatch(request)
      },
    }
    return { offload, sizes }
  }

  let pool: ResignWorkers
  beforeAll(() => {
    pool = workers({ signer: 'node', threads: 1, chunkSize: 7, callerHelps: true })
  })
  afterAll(() => pool.close())

  it('tells the resigner its chunks and how many it keeps busy', () => {
    expect(pool.callerHelps).toEqual({ chunkSize: 7, inFlight: 2 })
    expect(workers({ signer: 'node', threads: 3 }).callerHelps).toBeUndefined()
  })

  for (const method of ['resign', 'resignTexts'] as const) {
    for (const withOldKey of [false, true]) {
      const filter = withOldKey ? 'with old_key' : 'without old_key'

      it(`gives ${method}() the outcomes of the calling thread, deciding part of it here, ${filter}`, async () => {
        const data = await fixture()
        const { offload, sizes } = helped(pool, pool.callerHelps)
        const oldKey = withOldKey ? data.oldKey.verifyKey : undefined

        const outcomes = await decide(offloaded(data, offload), method, data.texts, oldKey)

        expectSameOutcomes(outcomes, await baseline(method, withOldKey))
        expect(sizes.length).toBeGreaterThan(1)
        expect(Math.max(...sizes)).toBeLessThanOrEqual(7)
        const sent = sizes.reduce((sum, size) => sum + size, 0)
        expect(sent).toBeGreaterThan(0)
        expect(sent).toBeLessThan(data.texts.length)
      })
    }
  }

  it('keeps the order of the batch whatever order the chunks come back in', async () => {
    const data = await fixture()
    const reference = inThread(data)
    let call = 0
    const { offload } = fakeOffload(async (request) => {
      // Every other chunk answers late, after chunks sent after it.
      const delay = call++ % 2 === 0 ? 20 : 0
      await new Promise((resolve) => setTimeout(resolve, delay))
      return answersOf(reference, request)
    })
    const slow = { ...offload, callerHelps: { chunkSize: 5, inFlight: 3 } }

    const outcomes = await offloaded(data, slow).resignTexts(data.texts)

    expectSameOutcomes(outcomes, await baseline('resignTexts', false))
    expect(call).toBeGreaterThan(3)
  })

  it('fails the batch when a chunk fails, leaving no rejection unhandled', async () => {
    const data = await fixture()
    const reference = inThread(data)
    let call = 0
    const { offload } = fakeOffload(async (request) => {
      if (call++ === 1) throw new Error('chunk lost')
      return answersOf(reference, request)
    })
    const failing = { ...offload, callerHelps: { chunkSize: 4, inFlight: 2 } }

    const error = await expectSignerError(
      offloaded(data, failing).resignTexts(data.texts),
      'the resign offload failed',
    )
    expect((error.cause as Error).message).toBe('chunk lost')
  })

  it('hands the batch over whole when callerHelps is unusable', async () => {
    const data = await fixture()
    const texts = data.texts.slice(0, 30)
    const reference = inThread(data)
    for (const callerHelps of [
      { chunkSize: 0, inFlight: 2 },
      { chunkSize: 4, inFlight: 1.5 },
    ]) {
      const { offload, requests } = fakeOffload((request) => answersOf(reference, request))

      const outcomes = await offloaded(data, { ...offload, callerHelps }).resignTexts(texts)

      expect(
        requests.map((request) => (request.kind === 'texts' ? request.texts.length : 0)),
      ).toEqual([30])
      expectSameOutcomes(outcomes, await reference.resignTexts(texts))
    }
  })

  it('refuses a callerHelps option that is not a boolean', () => {
    const options = { signer: 'node', callerHelps: 'yes' } as unknown as ResignWorkersOptions
    expect(() => workers(options)).toThrow(TypeError)
    expect(() => workers(options)).toThrow('callerHelps must be a boolean')
  })
})

describe('resignWorkers across batches', () => {
  let pool: ResignWorkers
  beforeAll(() => {
    pool = workers({ signer: 'node', threads: 2, chunkSize: 16 })
  })
  afterAll(() => pool.close())

  it('signs with the new key after a rotation between two batches', async () => {
    const data = await fixture()
    const first = generateSigningKey('first')
    const second = generateSigningKey('second')
    const provider = rotatedProvider(data.oldKey, first)
    const resigner = offloaded(data, pool, provider)
    const texts = data.texts.slice(0, 60)

    const before = await resigner.resignTexts(texts)
    provider.rotate(second, 1_700_000_100_000)
    const after = await resigner.resignTexts(texts)

    const resignedBefore = before.filter((outcome) => outcome.status === 'resigned')
    const resignedAfter = after.filter((outcome) => outcome.status === 'resigned')
    expect(resignedAfter.length).toBeGreaterThan(0)
    expect(new Set(resignedBefore.map((outcome) => outcome.keyId))).toEqual(new Set([first.keyId]))
    expect(new Set(resignedAfter.map((outcome) => outcome.keyId))).toEqual(new Set([second.keyId]))
    expectSameOutcomes(after, await inThread(data, provider).resignTexts(texts))
    for (const [index, outcome] of after.entries()) {
      if (outcome.status !== 'resigned') continue
      const event = JSON.parse(outcome.json)
      const { roomVersion } = texts[index] as StoredEventText
      expect(
        await verifyEventSignature(event, roomVersion, data.serverName, second.verifyKey),
      ).toBe(true)
      expect(await verifyEventSignature(event, roomVersion, data.serverName, first.verifyKey)).toBe(
        false,
      )
    }
  })

  it('decides here the events of a chunk that cannot be cloned, and the rest on the workers', async () => {
    const data = await fixture()
    const chunked = workers({ signer: 'node', threads: 1, chunkSize: 4 })
    try {
      const events = parsedEvents(data.texts.slice(0, 12))
      const withFunction = events[5] as StoredEvent & { event: JsonObject }
      const content = { ...(withFunction.event.content as JsonObject), callback: () => 1 }
      events[5] = { ...withFunction, event: { ...withFunction.event, content } }
      const { offload, calls } = watched(chunked)

      const outcomes = await offloaded(data, offload).resign(events)

      const answers = calls[0]?.answers ?? []
      expect(answers).toHaveLength(events.length)
      expect(answers[5]).toBeUndefined()
      expect(answers.filter((answer) => answer !== undefined).length).toBeGreaterThan(0)
      expectSameOutcomes(outcomes, await inThread(data).resign(events))
    } finally {
      await chunked.close()
    }
  })

  it('answers an empty batch with no outcomes', async () => {
    const data = await fixture()
    const request: ResignOffloadRequest = {
      kind: 'texts',
      serverName: data.serverName,
      keys: { current: { version: newKey.version, seed: newKey.encode() }, old: [] },
      texts: [],
    }

    expect(await pool.resignBatch(request)).toEqual([])
  })
})

describe('EventResigner with a current key that is not an Ed25519SigningKey', () => {
  it('never calls the offload, and decides as the calling thread does', async () => {
    const data = await fixture()
    const custom: SigningKey = {
      algorithm: 'ed25519',
      version: newKey.version,
      keyId: newKey.keyId,
      verifyKey: newKey.verifyKey,
      sign: (message) => newKey.sign(message),
    }
    const resignBatch = vi.fn(async () => [] as Answers)
    const resigner = offloaded(data, { resignBatch }, rotatedProvider(data.oldKey, custom))

    const texts = await resigner.resignTexts(data.texts)
    const events = await resigner.resign(parsedEvents(data.texts))

    expect(resignBatch).not.toHaveBeenCalled()
    expectSameOutcomes(texts, await baseline('resignTexts', false))
    expectSameOutcomes(events, await baseline('resign', false))
  })
})

describe('EventResigner and what an offload answers', () => {
  it('hands the offload the server name, the events and the keys as bytes', async () => {
    const data = await fixture()
    const seeds: Uint8Array[] = []
    const { offload, requests } = fakeOffload((request) => {
      seeds.push(request.keys.current.seed.slice())
      return answersOf(inThread(data), request)
    })
    const texts = data.texts.slice(0, 5)
    const resigner = offloaded(data, offload)

    await resigner.resignTexts(texts, { oldKey: data.oldKey.verifyKey })
    await resigner.resign(parsedEvents(texts))

    const [first, second] = requests
    expect(first).toMatchObject({ kind: 'texts', serverName: data.serverName, texts })
    expect(first?.keys.current.version).toBe('new')
    expect(seeds).toEqual([newKey.encode(), newKey.encode()])
    // The batch's copy of the seed is wiped once the batch is decided.
    expect(first?.keys.current.seed).toEqual(new Uint8Array(32))
    expect(first?.keys.old).toEqual([{ version: 'old', bytes: data.oldKey.verifyKey.bytes }])
    expect(first?.keys.oldKey).toEqual({ version: 'old', bytes: data.oldKey.verifyKey.bytes })
    expect(second).toMatchObject({ kind: 'events', events: parsedEvents(texts) })
    expect(second?.keys.oldKey).toBeUndefined()
  })

  it("takes the offload's answers as they are, putting a signature on the caller's event", async () => {
    const data = await fixture()
    const texts = data.texts.slice(0, 3)
    const { offload } = fakeOffload((request) => {
      const items = request.kind === 'texts' ? request.texts : request.events
      return items.map((item, index) =>
        index === 0
          ? { status: 'unprovable', eventId: item.eventId, detail: 'decided elsewhere' }
          : {
              status: 'resigned',
              eventId: item.eventId,
              keyId: newKey.keyId,
              json: '{"made":"elsewhere"}',
              signature: 'c2lnbmVk',
              removedSignatures: { 'ed25519:old': 'b2xk' },
            },
      )
    })
    const resigner = offloaded(data, offload)

    const fromTexts = await resigner.resignTexts(texts)
    const fromEvents = await resigner.resign(parsedEvents(texts))

    expect(fromTexts[0]).toEqual({
      status: 'unprovable',
      eventId: texts[0]?.eventId,
      detail: 'decided elsewhere',
    })
    expect(fromTexts[1]).toEqual({
      status: 'resigned',
      eventId: texts[1]?.eventId,
      json: '{"made":"elsewhere"}',
      removedSignatures: { 'ed25519:old': 'b2xk' },
      keyId: newKey.keyId,
    })
    const original = JSON.parse(texts[2]?.json as string) as JsonObject
    const signatures = { ...(original.signatures as JsonObject) }
    signatures[data.serverName] = { [newKey.keyId]: 'c2lnbmVk' }
    expect(fromEvents[2]).toEqual({
      status: 'resigned',
      eventId: texts[2]?.eventId,
      event: { ...original, signatures },
      removedSignatures: { 'ed25519:old': 'b2xk' },
      keyId: newKey.keyId,
    })
  })

  it('decides here the events the offload answers undefined for', async () => {
    const data = await fixture()
    const oldKey = data.oldKey.verifyKey
    const { offload, requests } = fakeOffload(async (request) => {
      const answers = await answersOf(inThread(data), request, oldKey)
      return answers.map((answer, index) => (index % 3 === 0 ? undefined : answer))
    })
    const resigner = offloaded(data, offload)

    const texts = await resigner.resignTexts(data.texts, { oldKey })
    const events = await resigner.resign(parsedEvents(data.texts), { oldKey })

    expect(requests).toHaveLength(2)
    expectSameOutcomes(texts, await baseline('resignTexts', true))
    expectSameOutcomes(events, await baseline('resign', true))
  })

  const miscounted: Array<[string, (answers: OffloadedOutcome[]) => unknown]> = [
    ['one answer short', (answers) => answers.slice(1)],
    ['one answer too many', (answers) => [...answers, undefined]],
    ['no array', () => ({ length: 3 })],
  ]
  it.each(miscounted)('refuses answers that are %s', async (_, change) => {
    const data = await fixture()
    const { offload } = fakeOffload(async (request) =>
      change(await answersOf(inThread(data), request)),
    )
    const resigner = offloaded(data, offload)

    await expectSignerError(
      resigner.resignTexts(data.texts.slice(0, 3)),
      'the resign offload did not answer one outcome per event',
    )
  })

  const resigned = {
    status: 'resigned',
    eventId: '$e',
    keyId: 'ed25519:new',
    removedSignatures: {},
  }
  const unusable: Array<[string, 'texts' | 'events', unknown]> = [
    ['an unknown status', 'texts', { status: 'lost', eventId: '$e', detail: 'gone' }],
    ['a skip without a detail', 'texts', { status: 'not-ours', eventId: '$e' }],
    ['a signature by another key', 'texts', { ...resigned, keyId: 'ed25519:old', json: '{}' }],
    ['a re-signed text without its text', 'texts', { ...resigned, signature: 'c2ln' }],
    ['a re-signed event without its signature', 'events', { ...resigned, json: '{}' }],
    ['no removed signatures', 'texts', { ...resigned, json: '{}', removedSignatures: null }],
    ['a number', 'texts', 5],
    ['null', 'texts', null],
  ]
  it.each(unusable)('refuses an answer with %s', async (_, kind, bad) => {
    const data = await fixture()
    const { offload } = fakeOffload(async (request) => {
      const answers: unknown[] = await answersOf(inThread(data), request)
      answers[1] = bad
      return answers
    })
    const resigner = offloaded(data, offload)
    const texts = data.texts.slice(0, 3)

    await expectSignerError(
      kind === 'texts' ? resigner.resignTexts(texts) : resigner.resign(parsedEvents(texts)),
      'the resign offload answered an unusable outcome',
    )
  })

  it('fails the batch with the reason when the offload rejects', async () => {
    const data = await fixture()
    const reason = new Error('the offload is down')
    const { offload } = fakeOffload(() => Promise.reject(reason))

    const error = await expectSignerError(
      offloaded(data, offload).resignTexts(data.texts.slice(0, 3)),
      'the resign offload failed',
    )

    expect(error.cause).toBe(reason)
  })
})

describe('resignWorkers when a worker fails', () => {
  /** A worker module in the scratch directory, with `body` as its code. */
  function workerModule(name: string, body: string): URL {
    return scratchFile(name, `import { parentPort } from 'node:worker_threads'\n${body}\n`)
  }

  it('fails the batch of a worker that exits, as a SignerError through EventResigner', async () => {
    const data = await fixture()
    const module = workerModule('exits.mjs', `parentPort.on('message', () => process.exit(3))`)
    const pool = resignWorkers({ signer: 'node', threads: 1, workerModule: module })
    try {
      const error = await expectSignerError(
        offloaded(data, pool).resignTexts(data.texts.slice(0, 4)),
        'the resign offload failed',
      )

      expect((error.cause as Error).message).toBe('a resign worker exited with code 3')
    } finally {
      await pool.close()
    }
  })

  it('rejects with the reason a worker gives for failing a chunk', async () => {
    const data = await fixture()
    const module = workerModule(
      'refuses.mjs',
      `parentPort.on('message', (request) => parentPort.postMessage({
        id: request.id,
        error: { name: 'RangeError', message: 'this worker refuses' },
      }))`,
    )
    const pool = resignWorkers({ signer: 'node', threads: 1, workerModule: module })
    try {
      const error = await expectSignerError(
        offloaded(data, pool).resignTexts(data.texts.slice(0, 4)),
        'the resign offload failed',
      )

      expect(error.cause).toBeInstanceOf(Error)
      expect((error.cause as Error).name).toBe('RangeError')
      expect((error.cause as Error).message).toBe('a resign worker failed: this worker refuses')
    } finally {
      await pool.close()
    }
  })

  it('starts another worker for the next batch after one has crashed', async () => {
    const data = await fixture()
    const marker = join(scratch, 'crashed-once')
    // The first worker throws on its first message; those started after it are the real ones.
    const module = workerModule(
      'crashes-once.mjs',
      `import { existsSync, writeFileSync } from 'node:fs'
      const marker = ${JSON.stringify(marker)}
      if (existsSync(marker)) {
        await import(${JSON.stringify(WORKER_MODULE.href)})
      } else {
        writeFileSync(marker, '')
        parentPort.on('message', () => {
          throw new Error('the first worker breaks')
        })
      }`,
    )
    const pool = resignWorkers({ signer: 'node', threads: 1, workerModule: module })
    const resigner = offloaded(data, pool)
    try {
      const error = await expectSignerError(
        resigner.resignTexts(data.texts),
        'the resign offload failed',
      )
      const outcomes = await resigner.resignTexts(data.texts)

      expect((error.cause as Error).message).toBe('the first worker breaks')
      expectSameOutcomes(outcomes, await baseline('resignTexts', false))
    } finally {
      await pool.close()
    }
  })
})

describe('resignWorkers, closed', () => {
  it('rejects the batches in flight and those that come after', async () => {
    const data = await fixture()
    const pool = workers({ signer: 'node', threads: 2 })
    let reached = () => {}
    const arrived = new Promise<void>((resolve) => {
      reached = resolve
    })
    const offload: ResignOffload = {
      resignBatch(request) {
        const answers = pool.resignBatch(request)
        reached()
        return answers
      },
    }
    const resigner = offloaded(data, offload)

    const inFlight = expectSignerError(
      resigner.resignTexts(data.texts),
      'the resign offload failed',
    )
    // Closed as soon as the chunks are posted: before a worker has even started.
    await arrived
    await pool.close()
    const later = expectSignerError(resigner.resignTexts(data.texts), 'the resign offload failed')

    expect(((await inFlight).cause as Error).message).toBe('the resign workers are closed')
    expect(((await later).cause as Error).message).toBe('the resign workers are closed')
  })

  it('rejects a batch given to the pool itself after close()', async () => {
    const pool = workers({ signer: 'node', threads: 1 })
    await pool.close()
    const request: ResignOffloadRequest = {
      kind: 'texts',
      serverName: 'example.org',
      keys: { current: { version: newKey.version, seed: newKey.encode() }, old: [] },
      texts: [{ json: '{}', roomVersion: '10', eventId: '$e' }],
    }

    await expect(pool.resignBatch(request)).rejects.toThrow('the resign workers are closed')
  })

  it('lets a process that never closes its workers end once they are idle', async () => {
    const script = `
      const { resignWorkers } = await import(${JSON.stringify(NODE_ENTRY)})
      const root = await import(${JSON.stringify(ROOT_ENTRY)})
      const server = 'example.org'
      const oldKey = root.generateSigningKey('old')
      const provider = new root.MemoryKeyProvider(oldKey)
      provider.rotate(root.generateSigningKey('new'), 1)
      const texts = []
      for (const body of ['a', 'b', 'c']) {
        const event = await root.signEvent({
          type: 'm.room.message', room_id: '!r:example.org', sender: '@a:example.org',
          content: { body }, depth: 1, prev_events: [], auth_events: [], origin_server_ts: 1,
        }, '10', server, oldKey)
        texts.push({ json: JSON.stringify(event), roomVersion: '10', eventId: root.computeEventId(event, '10') })
      }
      const workers = resignWorkers({ threads: 2 })
      let batches = 0
      const offload = { resignBatch: (request) => { batches++; return workers.resignBatch(request) } }
      const resigner = new root.EventResigner({ keyProvider: provider, serverName: server, offload })
      const outcomes = await resigner.resignTexts(texts)
      console.log(batches, outcomes.map((outcome) => outcome.keyId).join(' '))
    `

    const host = scratchFile('host.mjs', script)
    const { stdout } = await run(process.execPath, [fileURLToPath(host)], { timeout: 20_000 })
    expect(stdout.trim()).toBe('1 ed25519:new ed25519:new ed25519:new')

    // Workers inherit the process's flags, and Node refuses `--input-type` to a file worker: the
    // pool leaves it out.
    const evaluated = await run(process.execPath, ['--input-type=module', '-e', script], {
      timeout: 20_000,
    })
    expect(evaluated.stdout.trim()).toBe('1 ed25519:new ed25519:new ed25519:new')
    // And a V8 flag, which Node refuses to a worker when flags are given to it explicitly.
    const flagged = ['--expose-gc', '--input-type', 'module', '-e', script]
    const withV8Flag = await run(process.execPath, flagged, { timeout: 20_000 })
    expect(withV8Flag.stdout.trim()).toBe('1 ed25519:new ed25519:new ed25519:new')
    const fromFile = await run(process.execPath, ['--expose-gc', fileURLToPath(host)], {
      timeout: 20_000,
    })
    expect(fromFile.stdout.trim()).toBe('1 ed25519:new ed25519:new ed25519:new')
  })

  it('lets the process end when the first chunk a new worker gets cannot be cloned', async () => {
    const script = `
      const { resignWorkers } = await import(${JSON.stringify(NODE_ENTRY)})
      const root = await import(${JSON.stringify(ROOT_ENTRY)})
      const key = root.generateSigningKey('new')
      const workers = resignWorkers({ threads: 1, signer: 'node' })
      const answers = await workers.resignBatch({
        kind: 'events',
        serverName: 'example.org',
        keys: { current: { version: key.version, seed: key.encode() }, old: [] },
        events: [{ event: { content: { f: () => 1 } }, roomVersion: '10', eventId: '$e' }],
      })
      console.log(JSON.stringify(answers.map((answer) => answer === undefined)))
    `
    const host = scratchFile('unclonable-host.mjs', script)
    const { stdout } = await run(process.execPath, [fileURLToPath(host)], { timeout: 20_000 })

    expect(stdout.trim()).toBe('[true]')
  })
})

describe('resignWorkers options', () => {
  const badCounts: Array<[string, ResignWorkersOptions]> = [
    ['threads', { threads: 0 }],
    ['threads', { threads: -1 }],
    ['threads', { threads: 1.5 }],
    ['threads', { threads: Number.NaN }],
    ['threads', { threads: '2' as unknown as number }],
    ['chunkSize', { chunkSize: 0 }],
    ['chunkSize', { chunkSize: Number.POSITIVE_INFINITY }],
    ['concurrency', { concurrency: 0 }],
    ['concurrency', { concurrency: 2.5 }],
  ]
  it.each(badCounts)('refuses %s that is not a positive integer: %o', (name, options) => {
    expect(() => workers({ signer: 'node', ...options })).toThrow(RangeError)
    expect(() => workers({ signer: 'node', ...options })).toThrow(
      `${name} must be a positive integer`,
    )
  })

  it('finds its worker module by URL, URL text or file path, and refuses anything else', async () => {
    const data = await fixture()
    const texts = data.texts.slice(0, 12)
    const expected = await inThread(data).resignTexts(texts)
    for (const workerModule of [WORKER_MODULE, WORKER_MODULE.href, fileURLToPath(WORKER_MODULE)]) {
      const pool = resignWorkers({ signer: 'node', threads: 1, workerModule })
      try {
        expectSameOutcomes(await offloaded(data, pool).resignTexts(texts), expected)
      } finally {
        await pool.close()
      }
    }
    for (const workerModule of ['', 42 as unknown as string]) {
      expect(() => resignWorkers({ signer: 'node', workerModule })).toThrow(
        'workerModule must be a URL or a file path',
      )
    }
  })

  it('refuses an unknown signer', () => {
    const signer = 'libsodium' as unknown as 'node'

    expect(() => workers({ signer })).toThrow(TypeError)
    expect(() => workers({ signer })).toThrow("signer must be 'auto', 'sodium' or 'node'")
  })

  it('chooses sodium-native for auto when it loads, and node:crypto otherwise', async () => {
    const pool = workers({ threads: 1 })
    await pool.close()

    expect(pool.signer).toBe(sodiumMissing === undefined ? 'sodium' : 'node')
  })
})
