import { describe, expect, it } from 'vitest'
import {
  computeEventId,
  EventResigner,
  generateSigningKey,
  type JsonObject,
  type KeyProvider,
  MemoryKeyProvider,
  type ResignedOutcome,
  redactEvent,
  type SkippedOutcome,
  type StoredEvent,
  signEvent,
  verifyEventSignature,
} from '../../src/index.js'

const server = 'example.org'
const oldKey = generateSigningKey('old')
const newKey = generateSigningKey('new')
const strangerKey = generateSigningKey('old')

/** A provider whose current key is `newKey`, having rotated away from `oldKey`. */
function rotatedProvider(): MemoryKeyProvider {
  const provider = new MemoryKeyProvider(oldKey)
  provider.rotate(newKey, 1_700_000_000_000)
  return provider
}

function message(overrides: JsonObject = {}): JsonObject {
  return {
    type: 'm.room.message',
    room_id: '!room:example.org',
    sender: '@alice:example.org',
    content: { msgtype: 'm.text', body: 'hello there' },
    depth: 12,
    prev_events: ['$prev'],
    auth_events: ['$auth'],
    origin_server_ts: 1_690_000_000_000,
    unsigned: { age_ts: 1_690_000_000_000 },
    ...overrides,
  }
}

/** An event as Synapse stores it from version 3: signed by the old key, filed under its ID. */
async function storedV10(overrides: JsonObject = {}): Promise<StoredEvent & { event: JsonObject }> {
  const event = await signEvent(message(overrides), '10', server, oldKey)
  return { event, roomVersion: '10', eventId: computeEventId(event, '10') }
}

/** A version 1 event with an origin-chosen ID, signed by `key`. */
async function storedV1(key = oldKey): Promise<StoredEvent & { event: JsonObject }> {
  const event = await signEvent(message({ event_id: '$v1:example.org' }), '1', server, key)
  return { event, roomVersion: '1', eventId: '$v1:example.org' }
}

async function resignOne(
  stored: StoredEvent,
  options = {},
  provider: KeyProvider = rotatedProvider(),
) {
  const resigner = new EventResigner({ keyProvider: provider, serverName: server })
  const [outcome] = await resigner.resign([stored], options)
  return outcome as ResignedOutcome | SkippedOutcome
}

function expectResigned(outcome: ResignedOutcome | SkippedOutcome): ResignedOutcome {
  expect(outcome, 'detail' in outcome ? outcome.detail : '').toMatchObject({ status: 'resigned' })
  return outcome as ResignedOutcome
}

describe('EventResigner, for events it may re-sign', () => {
  it('re-signs a version 10 event whose ID and content hash reproduce', async () => {
    const stored = await storedV10()

    const outcome = expectResigned(await resignOne(stored))

    expect(outcome.eventId).toBe(stored.eventId)
    expect(outcome.keyId).toBe('ed25519:new')
    expect(outcome.removedSignatures).toEqual(
      (stored.event.signatures as Record<string, JsonObject>)[server],
    )
    expect(
      Object.keys((outcome.event.signatures as Record<string, JsonObject>)[server] ?? {}),
    ).toEqual(['ed25519:new'])
    expect(await verifyEventSignature(outcome.event, '10', server, newKey.verifyKey)).toBe(true)
    expect(computeEventId(outcome.event, '10')).toBe(stored.eventId)
  })

  it('changes nothing but our signatures', async () => {
    const stored = await storedV10()
    const other = {
      ...stored.event,
      signatures: { ...(stored.event.signatures as object), 'b.org': { 'ed25519:b': 'x' } },
    }

    const outcome = expectResigned(await resignOne({ ...stored, event: other }))

    const { signatures: before, ...restBefore } = other
    const { signatures: after, ...restAfter } = outcome.event
    expect(restAfter).toStrictEqual(restBefore)
    expect((after as JsonObject)['b.org']).toEqual({ 'ed25519:b': 'x' })
  })

  it('re-signs a version 10 event stored in its redacted form', async () => {
    const stored = await storedV10()
    const redacted = { ...redactEvent(stored.event, '10'), unsigned: { age_ts: 5 } }

    const outcome = expectResigned(await resignOne({ ...stored, event: redacted }))

    expect(outcome.event.content).toEqual({})
    expect(outcome.event.unsigned).toEqual({ age_ts: 5 })
  })

  it('takes the event ID from inside the JSON when the store gives none', async () => {
    const stored = await storedV10()
    const withId = { ...stored.event, event_id: stored.eventId as string }

    const outcome = expectResigned(await resignOne({ event: withId, roomVersion: '10' }))

    expect(outcome.eventId).toBe(stored.eventId)
    expect(outcome.event.event_id).toBe(stored.eventId)
  })

  it('re-signs a version 3 event filed under its standard-alphabet ID', async () => {
    const event = await signEvent(message(), '3', server, oldKey)

    const outcome = await resignOne({
      event,
      roomVersion: '3',
      eventId: computeEventId(event, '3'),
    })

    expectResigned(outcome)
  })

  it('re-signs a version 1 event whose content hash reproduces, whoever signed it', async () => {
    const stored = await storedV1(strangerKey)

    expectResigned(await resignOne(stored))
  })

  it('re-signs a redacted version 1 event whose signature verifies with a known key', async () => {
    const stored = await storedV1()

    const outcome = await resignOne({ ...stored, event: redactEvent(stored.event, '1') })

    expectResigned(outcome)
  })

  it('re-signs an event of ours that carries no signature of ours', async () => {
    const stored = await storedV10()

    expectResigned(await resignOne({ ...stored, event: { ...stored.event, signatures: {} } }))
  })

  it('with an old key, re-signs events whose signature by it verifies', async () => {
    const stored = await storedV10()

    expectResigned(await resignOne(stored, { oldKey: oldKey.verifyKey }))
  })
})

describe('EventResigner, for events it must skip', () => {
  it('skips an event of another server as not ours', async () => {
    const stored = await storedV10({ sender: '@bob:example.org:8448' })

    expect(await resignOne(stored)).toMatchObject({ status: 'not-ours', eventId: stored.eventId })
  })

  it('skips an event already signed by the current key id', async () => {
    const event = await signEvent(message(), '10', server, newKey)

    expect(await resignOne({ event, roomVersion: '10' })).toMatchObject({
      status: 'already-current',
    })
  })

  it('skips, with an old key, an event signed under its id by another key', async () => {
    const event = await signEvent(message(), '10', server, strangerKey)
    const stored = { event, roomVersion: '10', eventId: computeEventId(event, '10') }

    expect(await resignOne(stored, { oldKey: oldKey.verifyKey })).toMatchObject({
      status: 'old-key-mismatch',
      detail: 'the signature by ed25519:old does not verify',
    })
  })

  it('skips, with an old key, an event without a signature under its id', async () => {
    const other = generateSigningKey('other')
    const event = await signEvent(message(), '10', server, other)
    const stored = { event, roomVersion: '10', eventId: computeEventId(event, '10') }

    expect(await resignOne(stored, { oldKey: oldKey.verifyKey })).toMatchObject({
      status: 'old-key-mismatch',
      detail: 'no signature by ed25519:old',
    })
  })

  it('skips an event with an edited body as unprovable', async () => {
    const stored = await storedV10()
    const edited = { ...stored.event, content: { msgtype: 'm.text', body: 'edited' } }

    expect(await resignOne({ ...stored, event: edited })).toMatchObject({
      status: 'unprovable',
      detail: 'the content hash does not reproduce and the event is not stored redacted',
    })
  })

  it('skips an event whose content holds a number beyond 2^53 as unprovable', async () => {
    const stored = await storedV10()
    const lossy = { ...stored.event, content: { body: 'hello there', n: 2 ** 53 + 2 } }

    expect(await resignOne({ ...stored, event: lossy })).toMatchObject({
      status: 'unprovable',
      detail: 'the event cannot be written as canonical JSON at $.content.n',
    })
  })

  it('skips an event whose content holds a float as unprovable', async () => {
    const stored = await storedV10()
    const floaty = { ...stored.event, content: { body: 'hello there', n: 1.5 } }

    expect(await resignOne({ ...stored, event: floaty })).toMatchObject({ status: 'unprovable' })
  })

  it('skips an event whose signed part holds a lossy number as unprovable', async () => {
    const stored = await storedV10()
    const lossy = { ...stored.event, origin_server_ts: 2 ** 53 + 2 }

    expect(await resignOne({ ...stored, event: lossy })).toMatchObject({
      status: 'unprovable',
      detail: 'the redacted event cannot be written as canonical JSON at $.origin_server_ts',
    })
  })

  it('skips an event whose recomputed ID differs from the stored one', async () => {
    const stored = await storedV10()

    expect(await resignOne({ ...stored, eventId: '$somethingElse' })).toMatchObject({
      status: 'unprovable',
      detail: 'the recomputed event ID differs from the stored one',
    })
  })

  it('skips a version 3+ event with no event ID to compare with', async () => {
    const stored = await storedV10()

    expect(await resignOne({ event: stored.event, roomVersion: '10' })).toMatchObject({
      status: 'unprovable',
    })
  })

  it('skips an event whose inner event_id disagrees with the stored one', async () => {
    const stored = await storedV10()
    const event = { ...stored.event, event_id: '$other' }

    expect(await resignOne({ ...stored, event })).toMatchObject({ status: 'unprovable' })
  })

  it('skips a version 1 event stored redacted when no known key verifies it', async () => {
    const stored = await storedV1(strangerKey)

    const outcome = await resignOne({ ...stored, event: redactEvent(stored.event, '1') })

    expect(outcome).toMatchObject({
      status: 'unprovable',
      detail: 'the content hash does not reproduce and no signature of ours verifies',
    })
  })

  it('skips an edited version 1 event even when our old signature still verifies', async () => {
    const stored = await storedV1()
    const edited = { ...stored.event, content: { body: 'edited' } }

    expect(await resignOne({ ...stored, event: edited })).toMatchObject({ status: 'unprovable' })
  })

  it('skips an event of an unknown room version', async () => {
    const stored = await storedV10()

    expect(await resignOne({ ...stored, roomVersion: 'org.matrix.hydra.11' })).toMatchObject({
      status: 'unknown-room-version',
      eventId: stored.eventId,
    })
  })

  it('skips malformed events with a reason', async () => {
    const stored = await storedV10()
    const cases: [unknown, string][] = [
      ['not json', 'the event is string, not a JSON object'],
      [{ ...stored.event, type: 1 }, '$.type is not a string'],
      [{ ...stored.event, content: null }, '$.content is not an object'],
      [{ ...stored.event, sender: 'alice' }, '$.sender is not a user ID'],
      [{ ...stored.event, signatures: [] }, '$.signatures is not an object'],
      [{ ...stored.event, signatures: { x: 'y' } }, '$.signatures holds a non-object entry'],
    ]

    for (const [event, detail] of cases) {
      expect(await resignOne({ ...stored, event })).toMatchObject({ status: 'malformed', detail })
    }
  })
})

describe('EventResigner, across runs', () => {
  it('finds an event it re-signed already current the next time', async () => {
    const provider = rotatedProvider()
    const first = expectResigned(await resignOne(await storedV10(), {}, provider))

    const again = await resignOne(
      { event: first.event, roomVersion: '10', eventId: first.eventId },
      {},
      provider,
    )

    expect(again).toMatchObject({ status: 'already-current' })
  })

  it('gives back the stored event when the removed signatures are put back', async () => {
    const stored = await storedV10()
    const outcome = expectResigned(await resignOne(stored))

    const signatures = {
      ...(outcome.event.signatures as JsonObject),
      [server]: outcome.removedSignatures,
    }

    expect({ ...outcome.event, signatures }).toStrictEqual(stored.event)
  })
})

describe('EventResigner, as a batch', () => {
  it('returns one outcome per event, in order', async () => {
    const a = await storedV10()
    const b = await storedV10({ sender: '@bob:elsewhere' })
    const resigner = new EventResigner({ keyProvider: rotatedProvider(), serverName: server })

    const outcomes = await resigner.resign([a, b, { ...a, roomVersion: '0' }])

    expect(outcomes.map((outcome) => outcome.status)).toEqual([
      'resigned',
      'not-ours',
      'unknown-room-version',
    ])
  })

  it('leaves the stored events unchanged', async () => {
    const stored = await storedV10()
    const before = structuredClone(stored)
    const resigner = new EventResigner({ keyProvider: rotatedProvider(), serverName: server })

    await resigner.resign([stored])

    expect(stored).toStrictEqual(before)
  })

  it('fails the batch when the key provider fails', async () => {
    const broken: KeyProvider = {
      currentKey: async () => {
        throw new Error('vault sealed')
      },
      oldVerifyKeys: async () => [],
    }
    const resigner = new EventResigner({ keyProvider: broken, serverName: server })

    await expect(resigner.resign([await storedV10()])).rejects.toMatchObject({ code: 'ERR_SIGNER' })
  })

  it('refuses a missing provider, an empty server name and a bad old key', async () => {
    expect(() => new EventResigner({ keyProvider: {} as KeyProvider, serverName: server })).toThrow(
      TypeError,
    )
    expect(() => new EventResigner({ keyProvider: rotatedProvider(), serverName: '' })).toThrow(
      TypeError,
    )
    const resigner = new EventResigner({ keyProvider: rotatedProvider(), serverName: server })
    await expect(resigner.resign([], { oldKey: { keyId: 'x' } as never })).rejects.toThrow(
      TypeError,
    )
  })
})
