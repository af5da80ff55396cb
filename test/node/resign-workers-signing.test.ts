/**
 * resignWorkers().signBatch and EventResigner.resign with an offload that signs: parsed events are
 * decided on the calling thread and only their signed forms cross to the workers, which answer a
 * signature each. The outcomes are the calling thread's own, over a data set of every room version;
 * an offload that answers anything but 64 bytes per message fails the batch.
 *
 * The workers run the built dist/resign-worker.js (`npm test` builds it first).
 */
import {
  computeEventId,
  EventResigner,
  generateSigningKey,
  type JsonObject,
  MemoryKeyProvider,
  type ResignOffload,
  type ResignOutcome,
  type ResignSigningRequest,
  SignerError,
  type SigningKey,
  type StoredEvent,
  signEvent,
} from 'matrix-background-updates'
import { type ResignWorkers, resignWorkers } from 'matrix-background-updates/node'
import { generateDataSet } from 'matrix-background-updates/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const WORKER_MODULE = new URL('../../dist/resign-worker.js', import.meta.url)
const server = 'example.org'
const oldKey = generateSigningKey('old')
const newKey = generateSigningKey('new')

function provider(): MemoryKeyProvider {
  const keys = new MemoryKeyProvider(oldKey)
  keys.rotate(newKey, 1_700_000_000_000)
  return keys
}

/** Messages, v10 and v1 events, some of ours, some not, some already current. */
async function storedEvents(): Promise<StoredEvent[]> {
  const message = (index: number, sender = `@user${index}:${server}`): JsonObject => ({
    type: 'm.room.message',
    room_id: `!room:${server}`,
    sender,
    content: { msgtype: 'm.text', body: `message ${index} é 😀` },
    depth: index + 1,
    prev_events: ['$prev'],
    auth_events: ['$auth'],
    origin_server_ts: 1_700_000_000_000 + index,
  })
  const events: StoredEvent[] = []
  for (let index = 0; index < 60; index++) {
    const version = index % 10 === 9 ? '1' : '10'
    const key = index % 15 === 14 ? newKey : oldKey
    const sender = index % 12 === 11 ? '@someone:other.example' : undefined
    const body =
      version === '1'
        ? { ...message(index, sender), event_id: `$v1-${index}:${server}` }
        : message(index, sender)
    const event = await signEvent(body, version, server, key)
    const eventId = version === '1' ? `$v1-${index}:${server}` : computeEventId(event, version)
    events.push({ event, roomVersion: version, eventId })
  }
  return events
}

/** Counts what goes to each of the offload's methods, passing everything on to `inner`. */
function counted(inner: ResignOffload, callerHelps = inner.callerHelps) {
  const seen = { batches: 0, signed: 0, signCalls: 0 }
  const offload: ResignOffload = {
    callerHelps,
    resignBatch(request) {
      seen.batches += request.kind === 'events' ? request.events.length : request.texts.length
      return inner.resignBatch(request)
    },
    signBatch(request) {
      seen.signCalls++
      seen.signed += request.messages.length
      return (inner.signBatch as NonNullable<ResignOffload['signBatch']>)(request)
    },
  }
  return { offload, seen }
}

function resigner(offload?: ResignOffload): EventResigner {
  return new EventResigner({ keyProvider: provider(), serverName: server, offload })
}

function expectSame(actual: readonly ResignOutcome[], expected: readonly ResignOutcome[]) {
  expect(actual).toEqual(expected)
  expect(JSON.stringify(actual)).toBe(JSON.stringify(expected))
}

describe('resignWorkers().signBatch', () => {
  let pool: ResignWorkers
  beforeAll(() => {
    pool = resignWorkers({ workerModule: WORKER_MODULE, signer: 'node', threads: 2, chunkSize: 5 })
  })
  afterAll(() => pool.close())

  it('signs each message as the current key does, views into a larger buffer included', async () => {
    const backing = new TextEncoder().encode('xx{"a":1}{"b":"é"}yy')
    const messages = [
      backing.subarray(2, 9),
      backing.subarray(9, 19),
      new Uint8Array(0),
      ...Array.from({ length: 12 }, (_, i) => new TextEncoder().encode(`{"n":${i}}`)),
    ]
    const keys = { current: { version: newKey.version, seed: newKey.encode() }, old: [] }
    const signatures = await pool.signBatch({ serverName: server, keys, messages })

    expect(signatures).toHaveLength(messages.length)
    for (const [index, message] of messages.entries()) {
      expect(signatures[index]).toEqual(await newKey.sign(message.slice()))
    }
  })

  it('answers no messages with no signatures', async () => {
    const keys = { current: { version: newKey.version, seed: newKey.encode() }, old: [] }
    expect(await pool.signBatch({ serverName: server, keys, messages: [] })).toEqual([])
  })

  it('rejects once closed', async () => {
    const closed = resignWorkers({ workerModule: WORKER_MODULE, signer: 'node', threads: 1 })
    await closed.close()
    const keys = { current: { version: newKey.version, seed: newKey.encode() }, old: [] }
    await expect(
      closed.signBatch({ serverName: server, keys, messages: [new Uint8Array(3)] }),
    ).rejects.toThrow('the resign workers are closed')
  })
})

describe('EventResigner.resign with resignWorkers signing', () => {
  let events: StoredEvent[]
  let expected: ResignOutcome[]
  beforeAll(async () => {
    events = await storedEvents()
    expected = await resigner().resign(events)
    expect(new Set(expected.map((outcome) => outcome.status))).toEqual(
      new Set(['resigned', 'not-ours', 'already-current']),
    )
  })

  for (const callerHelps of [false, true]) {
    it(`gives the calling thread's outcomes, only signatures crossing${callerHelps ? ', the caller helping' : ''}`, async () => {
      const pool = resignWorkers({
        workerModule: WORKER_MODULE,
        signer: 'node',
        threads: 1,
        chunkSize: 4,
        callerHelps,
      })
      try {
        const { offload, seen } = counted(pool)
        expectSame(await resigner(offload).resign(events), expected)
        // Version 1 events need a verification first: decided here, like the skipped ones.
        const v10Resigned = expected.filter(
          (outcome, index) => outcome.status === 'resigned' && events[index]?.roomVersion === '10',
        ).length
        expect(seen.batches).toBe(0)
        if (callerHelps) {
          expect(seen.signed).toBeGreaterThan(0)
          expect(seen.signed).toBeLessThan(v10Resigned)
          expect(seen.signCalls).toBeGreaterThan(1)
        } else {
          expect(seen.signed).toBe(v10Resigned)
        }
      } finally {
        await pool.close()
      }
    })
  }

  it('hands batches with an old_key to resignBatch, as whole events', async () => {
    const pool = resignWorkers({ workerModule: WORKER_MODULE, signer: 'node', threads: 1 })
    try {
      const { offload, seen } = counted(pool)
      const filtered = await resigner(offload).resign(events, { oldKey: oldKey.verifyKey })
      expectSame(filtered, await resigner().resign(events, { oldKey: oldKey.verifyKey }))
      expect(seen.signed).toBe(0)
      expect(seen.batches).toBe(events.length)
    } finally {
      await pool.close()
    }
  })

  it('signs the generated data set of every room version as the calling thread does', async () => {
    const stored: StoredEvent[] = []
    let keyProvider: MemoryKeyProvider | undefined
    let serverName = ''
    await generateDataSet(
      {
        addEvents: (seeds) => {
          for (const seed of seeds) {
            stored.push({
              event: seed.event,
              roomVersion: seed.room_version as string,
              eventId: seed.event_id,
            })
          }
        },
        setRoomState: () => {},
        addUsers: () => {},
        setStreamPosition: () => {},
      },
      { seed: 7, rooms: 12, messages: 40, redactedShare: 0.2, malformedRows: true },
    ).then((summary) => {
      serverName = summary.serverName
      keyProvider = new MemoryKeyProvider(summary.oldKey as SigningKey)
      keyProvider.rotate(newKey, 1_700_000_000_000)
    })
    const pool = resignWorkers({
      workerModule: WORKER_MODULE,
      signer: 'node',
      threads: 2,
      chunkSize: 9,
    })
    try {
      const make = (offload?: ResignOffload) =>
        new EventResigner({ keyProvider: keyProvider as MemoryKeyProvider, serverName, offload })
      const { offload, seen } = counted(pool, { chunkSize: 9, inFlight: 2 })
      expectSame(await make(offload).resign(stored), await make().resign(stored))
      expect(seen.signed).toBeGreaterThan(20)
    } finally {
      await pool.close()
    }
  })
})

describe('EventResigner and what signBatch answers', () => {
  let events: StoredEvent[]
  beforeAll(async () => {
    events = (await storedEvents()).filter((stored) => stored.roomVersion === '10')
  })

  /** An offload whose `signBatch` answers what `answer` makes of each request. */
  function signingOffload(answer: (request: ResignSigningRequest) => unknown): ResignOffload {
    return {
      resignBatch: async () => {
        throw new Error('not used without old_key')
      },
      signBatch: async (request) => answer(request) as Uint8Array[],
    }
  }

  it('gives it the server name, the keys as bytes and the signed forms of the events to sign', async () => {
    const requests: ResignSigningRequest[] = []
    const offload = signingOffload(async (request) => {
      requests.push(request)
      return Promise.all(request.messages.map((message) => newKey.sign(message.slice())))
    })
    const outcomes = await resigner(offload).resign(events)
    expectSame(outcomes, await resigner().resign(events))
    expect(requests).toHaveLength(1)
    const [request] = requests
    expect(request?.serverName).toBe(server)
    expect(request?.keys.current.version).toBe('new')
    // The batch's copy of the seed is wiped once the batch is done.
    expect(request?.keys.current.seed).toEqual(new Uint8Array(32))
    expect(request?.messages).toHaveLength(
      outcomes.filter((outcome) => outcome.status === 'resigned').length,
    )
  })

  it.each([
    [
      'a signature short of 64 bytes',
      (messages: Uint8Array[]) => messages.map(() => new Uint8Array(63)),
    ],
    [
      'one signature too few',
      (messages: Uint8Array[]) => messages.slice(1).map(() => new Uint8Array(64)),
    ],
    ['text instead of bytes', (messages: Uint8Array[]) => messages.map(() => 'A'.repeat(86))],
    ['no array', () => ({ length: 1 })],
  ])('fails the batch with a SignerError for %s', async (_, answer) => {
    const offload = signingOffload((request) => answer(request.messages as Uint8Array[]))
    const error = await resigner(offload)
      .resign(events)
      .catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(SignerError)
    expect((error as SignerError).message).toBe(
      'the resign offload did not answer a 64-byte signature each',
    )
  })

  it('fails the batch with a SignerError that keeps the reason when signBatch rejects', async () => {
    const reason = new Error('the workers are gone')
    const offload = signingOffload(() => Promise.reject(reason))
    const error = await resigner(offload)
      .resign(events)
      .catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(SignerError)
    expect((error as SignerError).message).toBe('the resign offload failed to sign')
    expect((error as SignerError).cause).toBe(reason)
  })
})
