import {
  eventResignJob,
  generateSigningKey,
  JobParameterError,
  type JsonObject,
  type MemoryHomeserver,
  type MemoryKeyProvider,
  redactEvent,
  type UpdateBatchEvent,
  verifyEventSignature,
} from 'matrix-background-updates'
import { runUntilIdle } from 'matrix-background-updates/testing'
import { describe, expect, it } from 'vitest'
import {
  hookedProvider,
  makeHomeserver,
  newKey,
  oldKey,
  oldKeyParam,
  restartedRunner,
  rotatedProvider,
  type SignedEvent,
  signaturesOf,
  signedMessage,
} from './job-setup.js'

const server = 'example.org'

function store(homeserver: MemoryHomeserver, events: SignedEvent[], extra = {}) {
  homeserver.addEvents(
    events.map((signed, index) => ({
      event: signed.event,
      event_id: signed.eventId,
      stream_ordering: index + 1,
      room_version: signed.roomVersion,
      received_ts: 1000 * (index + 1),
      ...extra,
    })),
  )
}

function stored(homeserver: MemoryHomeserver, eventId: string): JsonObject {
  return JSON.parse(homeserver.storedJson(eventId) as string)
}

/** Registers event_resign for `example.org` and collects the batches and the changed IDs. */
function setup(
  options: {
    provider?: MemoryKeyProvider | ReturnType<typeof hookedProvider>
    batchSize?: number
    serverName?: string
  } = {},
) {
  const kit = makeHomeserver({ defaultBatchSize: options.batchSize ?? 100 })
  const changed: string[][] = []
  const batches: UpdateBatchEvent[] = []
  const keyProvider = options.provider ?? rotatedProvider()
  kit.runner.registerJob(
    eventResignJob({
      serverName: options.serverName ?? server,
      keyProvider,
      onEventsChanged: (ids) => changed.push([...ids]),
    }),
  )
  kit.runner.on('update:batch', (event) => batches.push(event))
  return { ...kit, changed, batches }
}

function totals(batches: UpdateBatchEvent[]): Record<string, number> {
  const sum: Record<string, number> = {}
  for (const batch of batches) {
    for (const [kind, count] of Object.entries(batch.outcomes)) sum[kind] = (sum[kind] ?? 0) + count
  }
  return sum
}

/** The event with our signatures replaced by `signature` under the new key id. */
function withNewSignature(event: JsonObject, signature: unknown): JsonObject {
  const signatures = { ...(event.signatures as JsonObject), [server]: { 'ed25519:new': signature } }
  return { ...event, signatures } as JsonObject
}

describe('event_resign, end to end over the memory adapter', () => {
  it('re-signs our events of every room version 1 to 12 and changes nothing else', async () => {
    const versions = Array.from({ length: 12 }, (_, index) => String(index + 1))
    const events = await Promise.all(
      versions.map((roomVersion) =>
        signedMessage('@alice:example.org', `v${roomVersion}`, { roomVersion }),
      ),
    )
    const { homeserver, runner, batches } = setup()
    store(homeserver, events)

    await runner.startJob('event_resign', {})
    const report = await runUntilIdle(runner)

    expect(report.completed).toEqual(['event_resign'])
    expect(totals(batches)).toEqual({ resigned: 12 })
    for (const signed of events) {
      const after = stored(homeserver, signed.eventId)
      const signature = signaturesOf(after, server)?.['ed25519:new']
      expect(after).toStrictEqual(withNewSignature(signed.event, signature))
      expect(await verifyEventSignature(after, signed.roomVersion, server, newKey.verifyKey)).toBe(
        true,
      )
      expect(await verifyEventSignature(after, signed.roomVersion, server, oldKey.verifyKey)).toBe(
        false,
      )
    }
  })

  it('writes to the undo log exactly the signatures it removed, one entry per re-signed event', async () => {
    const signed = await signedMessage('@alice:example.org', 'a')
    const current = await signedMessage('@alice:example.org', 'b', { key: newKey })
    const { homeserver, runner } = setup()
    store(homeserver, [signed, current])

    await runner.startJob('event_resign', {})
    await runUntilIdle(runner)

    expect(homeserver.undoLog()).toEqual([
      {
        id: 1,
        event_id: signed.eventId,
        server_name: server,
        removed_signatures: signaturesOf(signed.event, server),
        added_key_id: 'ed25519:new',
      },
    ])
  })

  it("leaves other servers' events and their signatures as they are", async () => {
    const remote = await signedMessage('@bob:remote.example', 'remote', {
      key: generateSigningKey('r'),
    })
    const ours = await signedMessage('@alice:example.org', 'ours')
    const coSigned = {
      ...ours,
      event: {
        ...ours.event,
        signatures: {
          ...(ours.event.signatures as JsonObject),
          'remote.example': { 'ed25519:r': 'c2ln' },
        },
      },
    }
    const { homeserver, runner } = setup()
    store(homeserver, [remote, coSigned])
    const remoteText = JSON.stringify(remote.event)

    await runner.startJob('event_resign', {})
    await runUntilIdle(runner)

    expect(homeserver.storedJson(remote.eventId)).toBe(remoteText)
    expect(signaturesOf(stored(homeserver, ours.eventId), 'remote.example')).toEqual({
      'ed25519:r': 'c2ln',
    })
  })

  it('checks the server name whole, ports and IPv6 literals included', async () => {
    const withPort = '[::1]:8448'
    const ours = await signedMessage(`@alice:${withPort}`, 'ours', { server: withPort })
    const noPort = await signedMessage('@alice:[::1]', 'no-port', { server: '[::1]' })
    const suffix = await signedMessage('@alice:x[::1]:8448', 'suffix', { server: 'x[::1]:8448' })
    const { homeserver, runner, batches } = setup({ serverName: withPort })
    store(homeserver, [ours, noPort, suffix])

    await runner.startJob('event_resign', {})
    await runUntilIdle(runner)

    expect(totals(batches)).toEqual({ resigned: 1 })
    expect(Object.keys(signaturesOf(stored(homeserver, ours.eventId), withPort) ?? {})).toEqual([
      'ed25519:new',
    ])
    expect(homeserver.storedJson(noPort.eventId)).toBe(JSON.stringify(noPort.event))
    expect(homeserver.storedJson(suffix.eventId)).toBe(JSON.stringify(suffix.event))
  })

  it('with old_key, re-signs only events whose signature by it verifies', async () => {
    const right = await signedMessage('@alice:example.org', 'right')
    const sameIdOtherKey = await signedMessage('@alice:example.org', 'stranger', {
      key: generateSigningKey('old'),
    })
    const missing = await signedMessage('@alice:example.org', 'missing', {
      key: generateSigningKey('older'),
    })
    const { homeserver, runner, batches } = setup()
    store(homeserver, [right, sameIdOtherKey, missing])

    await runner.startJob('event_resign', { old_key: oldKeyParam(oldKey) })
    await runUntilIdle(runner)

    expect(totals(batches)).toEqual({ resigned: 1, 'old-key-mismatch': 2 })
    expect(homeserver.undoLog().map((entry) => entry.event_id)).toEqual([right.eventId])
  })

  it('without old_key, re-signs whatever key signed them', async () => {
    const sameIdOtherKey = await signedMessage('@alice:example.org', 'stranger', {
      key: generateSigningKey('old'),
    })
    const missing = await signedMessage('@alice:example.org', 'missing', {
      key: generateSigningKey('older'),
    })
    const { homeserver, runner, batches } = setup()
    store(homeserver, [sameIdOtherKey, missing])

    await runner.startJob('event_resign', {})
    await runUntilIdle(runner)

    expect(totals(batches)).toEqual({ resigned: 2 })
  })

  it('with before_ts, re-signs only events received before it', async () => {
    const events = await Promise.all(
      ['a', 'b', 'c'].map((body) => signedMessage('@alice:example.org', body)),
    )
    const { homeserver, runner } = setup()
    store(homeserver, events) // received at 1000, 2000, 3000

    await runner.startJob('event_resign', { before_ts: 2500 })
    await runUntilIdle(runner)

    expect(homeserver.undoLog().map((entry) => entry.event_id)).toEqual([
      events[0]?.eventId,
      events[1]?.eventId,
    ])
    expect(homeserver.storedJson(events[2]?.eventId as string)).toBe(
      JSON.stringify(events[2]?.event),
    )
  })

  it('counts and leaves alone events already current, malformed, unprovable, rejected or of an unknown version', async () => {
    const current = await signedMessage('@alice:example.org', 'current', { key: newKey })
    const edited = await signedMessage('@alice:example.org', 'edited')
    const rejected = await signedMessage('@alice:example.org', 'rejected')
    const unknownVersion = await signedMessage('@alice:example.org', 'unknown')
    const { homeserver, runner, batches } = setup()
    homeserver.addEvents([
      { event: current.event, event_id: current.eventId, stream_ordering: 1, room_version: '10' },
      {
        json: '{"type": "m.room.message", "sender": "@alice:example.org"',
        event_id: '$bad',
        sender: '@alice:example.org',
        stream_ordering: 2,
        room_version: '10',
      },
      {
        json: '[1, 2]',
        event_id: '$array',
        sender: '@alice:example.org',
        stream_ordering: 3,
        room_version: '10',
      },
      {
        event: { ...edited.event, content: { msgtype: 'm.text', body: 'changed' } },
        event_id: edited.eventId,
        stream_ordering: 4,
        room_version: '10',
      },
      {
        event: rejected.event,
        event_id: rejected.eventId,
        stream_ordering: 5,
        room_version: '10',
        rejected: true,
      },
      {
        event: unknownVersion.event,
        event_id: unknownVersion.eventId,
        stream_ordering: 6,
        room_version: null,
      },
    ])
    const before = [
      '$bad',
      '$array',
      current.eventId,
      edited.eventId,
      rejected.eventId,
      unknownVersion.eventId,
    ].map((id) => homeserver.storedJson(id))

    await runner.startJob('event_resign', {})
    await runUntilIdle(runner)

    expect(totals(batches)).toEqual({
      'already-current': 1,
      malformed: 2,
      unprovable: 1,
      rejected: 1,
      'unknown-room-version': 1,
    })
    const after = [
      '$bad',
      '$array',
      current.eventId,
      edited.eventId,
      rejected.eventId,
      unknownVersion.eventId,
    ].map((id) => homeserver.storedJson(id))
    expect(after).toEqual(before)
    expect(homeserver.undoLog()).toEqual([])
  })

  it('re-signs an event stored in its redacted form, keeping it redacted', async () => {
    const signed = await signedMessage('@alice:example.org', 'secret')
    const redacted = redactEvent(signed.event, '10')
    const { homeserver, runner } = setup()
    homeserver.addEvents([
      { event: redacted, event_id: signed.eventId, stream_ordering: 1, room_version: '10' },
    ])

    await runner.startJob('event_resign', {})
    await runUntilIdle(runner)

    const after = stored(homeserver, signed.eventId)
    expect(after.content).toEqual({})
    expect(await verifyEventSignature(after, '10', server, newKey.verifyKey)).toBe(true)
  })

  it('retries next batch an event the host changed between read and write, never writing the stale copy', async () => {
    const events = await Promise.all(
      ['a', 'b'].map((body) => signedMessage('@alice:example.org', body)),
    )
    const target = events[0] as SignedEvent
    const redacted = JSON.stringify(redactEvent(target.event, '10'))
    let calls = 0
    let progressSeen: JsonObject | null = null
    const kit = setup({
      batchSize: 2,
      provider: hookedProvider(rotatedProvider(), async () => {
        calls++
        if (calls === 1) kit.homeserver.writeStoredJson(target.eventId, redacted)
        if (calls === 2) progressSeen = await kit.storage.readProgress('event_resign')
      }),
    })
    store(kit.homeserver, events)

    await kit.runner.startJob('event_resign', {})
    await runUntilIdle(kit.runner)

    expect(progressSeen).toMatchObject({ last_stream_pos: 2, retry_event_ids: [target.eventId] })
    expect(totals(kit.batches)).toEqual({ resigned: 2 })
    expect(kit.batches[0]?.skipped).toBe(2)
    const after = stored(kit.homeserver, target.eventId)
    expect(after.content).toEqual({})
    expect(await verifyEventSignature(after, '10', server, newKey.verifyKey)).toBe(true)
    expect(kit.homeserver.undoLog().map((entry) => entry.event_id)).toEqual([
      events[1]?.eventId,
      target.eventId,
    ])
    expect(kit.changed).toEqual([[events[1]?.eventId], [target.eventId]])
  })

  it('counts an event changed again on retry as changed-concurrently and keeps the host write', async () => {
    const target = await signedMessage('@alice:example.org', 'a')
    let calls = 0
    const kit = setup({
      provider: hookedProvider(rotatedProvider(), () => {
        calls++
        kit.homeserver.writeStoredJson(
          target.eventId,
          JSON.stringify({ ...target.event, unsigned: { n: calls } }),
        )
      }),
    })
    store(kit.homeserver, [target])

    await kit.runner.startJob('event_resign', {})
    const report = await runUntilIdle(kit.runner)

    expect(report.completed).toEqual(['event_resign'])
    expect(totals(kit.batches)).toEqual({ 'changed-concurrently': 1 })
    expect(stored(kit.homeserver, target.eventId)).toEqual({
      ...target.event,
      unsigned: { n: calls },
    })
    expect(kit.homeserver.undoLog()).toEqual([])
    expect(kit.changed).toEqual([])
  })

  it('tells the host which events changed only once their batch has committed', async () => {
    const signed = await signedMessage('@alice:example.org', 'a')
    const kit = makeHomeserver()
    const seenAtCallback: string[] = []
    kit.runner.registerJob(
      eventResignJob({
        serverName: server,
        keyProvider: rotatedProvider(),
        onEventsChanged: (ids) => {
          for (const id of ids) seenAtCallback.push(kit.homeserver.storedJson(id) as string)
        },
      }),
    )
    store(kit.homeserver, [signed])

    await kit.runner.startJob('event_resign', {})
    await runUntilIdle(kit.runner)

    expect(seenAtCallback).toEqual([kit.homeserver.storedJson(signed.eventId)])
    expect(seenAtCallback[0]).not.toBe(JSON.stringify(signed.event))
  })

  it('ends with refused, writing nothing, when the current key took the id of old_key', async () => {
    const signed = await signedMessage('@alice:example.org', 'a')
    const provider = rotatedProvider()
    const { homeserver, runner, batches } = setup({ provider })
    store(homeserver, [signed])
    await runner.startJob('event_resign', { old_key: oldKeyParam(oldKey) })

    provider.rotate(generateSigningKey('old'), 1_800_000_000_000)
    const report = await runUntilIdle(runner)

    expect(report.failures).toBe(0)
    expect(report.completed).toEqual(['event_resign'])
    expect(totals(batches)).toEqual({ refused: 1 })
    expect(homeserver.storedJson(signed.eventId)).toBe(JSON.stringify(signed.event))
    expect(homeserver.undoLog()).toEqual([])
  })

  it('keeps its progress in the documented format, starting below every stream ordering', async () => {
    const events = await Promise.all(
      ['a', 'b', 'c'].map((body) => signedMessage('@alice:example.org', body)),
    )
    const kit = setup({ batchSize: 2 })
    kit.homeserver.addEvents(
      events.map((signed, index) => ({
        event: signed.event,
        event_id: signed.eventId,
        stream_ordering: index - 2 ** 31 + 1,
        room_version: '10',
      })),
    )
    await kit.runner.startJob('event_resign', { before_ts: null, old_key: null })
    expect(await kit.storage.readProgress('event_resign')).toEqual({
      last_stream_pos: -(2 ** 31),
      old_key: null,
      before_ts: null,
      retry_event_ids: [],
      counts: {},
    })

    kit.runner.on('update:batch', () => void kit.runner.stop())
    await runUntilIdle(kit.runner)

    expect(await kit.storage.readProgress('event_resign')).toEqual({
      last_stream_pos: 2 - 2 ** 31,
      old_key: null,
      before_ts: null,
      retry_event_ids: [],
      counts: { resigned: 2 },
    })
  })

  it('continues from committed progress in a new runner after a stop', async () => {
    const events = await Promise.all(
      ['a', 'b', 'c', 'd', 'e'].map((body) => signedMessage('@alice:example.org', body)),
    )
    const kit = setup({ batchSize: 2 })
    store(kit.homeserver, events)
    await kit.runner.startJob('event_resign', {})
    kit.runner.on('update:batch', () => void kit.runner.stop())
    await runUntilIdle(kit.runner)
    expect(kit.homeserver.undoLog()).toHaveLength(2)

    const next = restartedRunner(kit.storage, kit.clock, { defaultBatchSize: 2 })
    next.registerJob(eventResignJob({ serverName: server, keyProvider: rotatedProvider() }))
    const report = await runUntilIdle(next)

    expect(report.completed).toEqual(['event_resign'])
    expect(kit.homeserver.undoLog().map((entry) => entry.event_id)).toEqual(
      events.map((e) => e.eventId),
    )
  })

  it('reports fraction_done from the highest stream ordering', async () => {
    const events = await Promise.all(
      ['a', 'b', 'c', 'd'].map((body) => signedMessage('@alice:example.org', body)),
    )
    const kit = setup({ batchSize: 1 })
    store(kit.homeserver, events)
    const fractions: Array<number | null | undefined> = []
    kit.runner.on('update:batch', () => {
      void kit.runner
        .status()
        .then((status) => fractions.push(status.current_update?.fraction_done))
    })
    await kit.runner.startJob('event_resign', {})

    await runUntilIdle(kit.runner)

    expect(fractions.slice(0, 4)).toEqual([0.25, 0.5, 0.75, 1])
  })
})

describe('event_resign parameters', () => {
  const cases: Array<[string, unknown, string, string, string]> = [
    [
      'an old_key that is not a string',
      { old_key: 5 },
      'old_key',
      'M_UNKNOWN',
      "'old_key' must be a string",
    ],
    [
      'a before_ts that is not an integer',
      { before_ts: 1.5 },
      'before_ts',
      'M_UNKNOWN',
      "'before_ts' must be an integer",
    ],
    [
      'a before_ts that is a string',
      { before_ts: '5' },
      'before_ts',
      'M_UNKNOWN',
      "'before_ts' must be an integer",
    ],
    [
      'Synapse checks before stricter ones',
      { old_key: 1, before_ts: true, what: 1 },
      'old_key',
      'M_UNKNOWN',
      "'old_key' must be a string",
    ],
    [
      'Synapse checks before an unknown field',
      { before_ts: 'x', what: 1 },
      'before_ts',
      'M_UNKNOWN',
      "'before_ts' must be an integer",
    ],
    [
      'an unknown field',
      { old_keys: 'x' },
      'old_keys',
      'M_INVALID_PARAM',
      "'old_keys' is not a parameter of event_resign, which takes 'old_key' and 'before_ts'",
    ],
    [
      'an old_key that does not parse',
      { old_key: 'ed25519:old' },
      'old_key',
      'M_INVALID_PARAM',
      '\'old_key\' must be a verify key written as "ed25519:<version> <unpadded base64>"',
    ],
    [
      'an old_key naming the current key',
      { old_key: oldKeyParam(newKey) },
      'old_key',
      'M_INVALID_PARAM',
      "'old_key' names ed25519:new, the id of the current signing key: it must name an old key",
    ],
    [
      'a before_ts that is a boolean',
      { before_ts: true },
      'before_ts',
      'M_INVALID_PARAM',
      "'before_ts' must be an integer, not a boolean",
    ],
    [
      'a negative before_ts',
      { before_ts: -1 },
      'before_ts',
      'M_INVALID_PARAM',
      "'before_ts' must not be negative",
    ],
    [
      'a before_ts beyond 2^53',
      { before_ts: 2 ** 53 },
      'before_ts',
      'M_INVALID_PARAM',
      "'before_ts' must be at most 2^53 - 1",
    ],
  ]

  for (const [what, params, field, errcode, text] of cases) {
    it(`answers ${errcode} for ${what}`, async () => {
      const { runner, storage } = setup()

      const start = runner.startJob('event_resign', params)

      await expect(start).rejects.toBeInstanceOf(JobParameterError)
      await expect(start).rejects.toMatchObject({ field, errcode, message: text })
      expect(await storage.listPendingUpdates()).toEqual([])
    })
  }

  it('takes null as absent and keeps old_key as the string given', async () => {
    const { runner, storage } = setup()
    const key = ` ${oldKeyParam(oldKey)}`

    await runner.startJob('event_resign', { old_key: key, before_ts: 0 })

    expect(await storage.readProgress('event_resign')).toMatchObject({ old_key: key, before_ts: 0 })
  })

  it('accepts a before_ts of 2^53 - 1', async () => {
    const { runner, storage } = setup()

    await runner.startJob('event_resign', { before_ts: 2 ** 53 - 1, old_key: null })

    expect(await storage.readProgress('event_resign')).toMatchObject({
      before_ts: 2 ** 53 - 1,
      old_key: null,
    })
  })

  it('is startable and declares the events and undo_log capabilities', () => {
    const job = eventResignJob({ serverName: server, keyProvider: rotatedProvider() })

    expect(job.startable).toBe(true)
    expect(job.updates.map((update) => update.capabilities)).toEqual([['events', 'undo_log']])
  })
})
