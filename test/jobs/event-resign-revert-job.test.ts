import {
  computeContentHash,
  computeEventId,
  eventResignJob,
  eventResignRevertJob,
  generateSigningKey,
  JobParameterError,
  type JsonObject,
  type KeyProvider,
  type MemoryHomeserver,
  signEvent,
  type UpdateBatchEvent,
  undoLogPruneJob,
  verifyEventSignature,
} from 'matrix-background-updates'
import { runUntilIdle } from 'matrix-background-updates/testing'
import { describe, expect, it } from 'vitest'
import {
  hookedProvider,
  makeHomeserver,
  newKey,
  oldKey,
  restartedRunner,
  rotatedProvider,
  type SignedEvent,
  signaturesOf,
  signedMessage,
} from './job-setup.js'

const server = 'example.org'

function store(homeserver: MemoryHomeserver, events: readonly SignedEvent[]) {
  homeserver.addEvents(
    events.map((signed, index) => ({
      event: signed.event,
      event_id: signed.eventId,
      stream_ordering: index + 1,
      room_version: signed.roomVersion,
    })),
  )
}

function stored(homeserver: MemoryHomeserver, eventId: string): JsonObject {
  return JSON.parse(homeserver.storedJson(eventId) as string)
}

function totals(batches: readonly UpdateBatchEvent[]): Record<string, number> {
  const sum: Record<string, number> = {}
  for (const batch of batches) {
    for (const [kind, count] of Object.entries(batch.outcomes)) sum[kind] = (sum[kind] ?? 0) + count
  }
  return sum
}

/** A homeserver with event_resign, its revert and the prune registered, and the batches seen. */
function setup(options: { provider?: KeyProvider; batchSize?: number } = {}) {
  const kit = makeHomeserver({ defaultBatchSize: options.batchSize ?? 100 })
  const keyProvider = options.provider ?? rotatedProvider()
  const changed: string[][] = []
  const batches: UpdateBatchEvent[] = []
  kit.runner.registerJob(eventResignJob({ serverName: server, keyProvider }))
  kit.runner.registerJob(
    eventResignRevertJob({
      serverName: server,
      keyProvider,
      onEventsChanged: (ids) => changed.push([...ids]),
    }),
  )
  kit.runner.registerJob(undoLogPruneJob({ serverName: server }))
  kit.runner.on('update:batch', (event) => batches.push(event))
  return { ...kit, changed, batches }
}

async function run(kit: ReturnType<typeof setup>, job: string) {
  kit.batches.length = 0
  await kit.runner.startJob(job, {})
  return runUntilIdle(kit.runner)
}

describe('event_resign_revert, end to end over the memory adapter', () => {
  it('gives every re-signed event of room versions 1 to 12 back its old signatures and nothing else', async () => {
    const versions = Array.from({ length: 12 }, (_, index) => String(index + 1))
    const events = await Promise.all(
      versions.map((roomVersion) =>
        signedMessage('@alice:example.org', `v${roomVersion}`, { roomVersion }),
      ),
    )
    const kit = setup()
    store(kit.homeserver, events)
    await run(kit, 'event_resign')

    const report = await run(kit, 'event_resign_revert')

    expect(report.completed).toEqual(['event_resign_revert'])
    expect(totals(kit.batches)).toEqual({ reverted: 12 })
    expect(kit.homeserver.undoLog()).toEqual([])
    for (const signed of events) {
      const after = stored(kit.homeserver, signed.eventId)
      expect(after).toStrictEqual(signed.event)
      expect(computeContentHash(after)).toBe(computeContentHash(signed.event))
      if (Number(signed.roomVersion) >= 3) {
        expect(computeEventId(after, signed.roomVersion)).toBe(signed.eventId)
      }
      expect(await verifyEventSignature(after, signed.roomVersion, server, oldKey.verifyKey)).toBe(
        true,
      )
      expect(await verifyEventSignature(after, signed.roomVersion, server, newKey.verifyKey)).toBe(
        false,
      )
    }
  })

  it("keeps other servers' signatures and leaves other servers' events byte for byte", async () => {
    const remoteKey = generateSigningKey('remote')
    const cosigned = await signedMessage('@alice:example.org', 'cosigned')
    const event = await signEvent(cosigned.event, '10', 'remote.example', remoteKey)
    const both = { ...cosigned, event }
    const remote = await signedMessage('@bob:remote.example', 'theirs', { key: remoteKey })
    const kit = setup()
    store(kit.homeserver, [both, remote])
    const remoteText = kit.homeserver.storedJson(remote.eventId)
    await run(kit, 'event_resign')

    await run(kit, 'event_resign_revert')

    const after = stored(kit.homeserver, both.eventId)
    expect(after).toStrictEqual(both.event)
    expect(signaturesOf(after, 'remote.example')).toEqual(
      signaturesOf(both.event, 'remote.example'),
    )
    expect(kit.homeserver.storedJson(remote.eventId)).toBe(remoteText)
  })

  it('tells the host which events it rewrote, after each commit', async () => {
    const events = await Promise.all(
      ['a', 'b'].map((body) => signedMessage('@a:example.org', body)),
    )
    const kit = setup()
    store(kit.homeserver, events)
    await run(kit, 'event_resign')

    await run(kit, 'event_resign_revert')

    expect(kit.changed.flat()).toEqual(events.map((signed) => signed.eventId))
  })

  it('continues from committed progress in a new runner after a stop', async () => {
    const events = await Promise.all(
      ['a', 'b', 'c', 'd', 'e'].map((body) => signedMessage('@alice:example.org', body)),
    )
    const kit = setup({ batchSize: 2 })
    store(kit.homeserver, events)
    await run(kit, 'event_resign')
    await kit.runner.startJob('event_resign_revert', {})
    kit.runner.on('update:batch', () => void kit.runner.stop())
    await runUntilIdle(kit.runner)
    expect(kit.homeserver.undoLog()).toHaveLength(3)

    const next = restartedRunner(kit.storage, kit.clock, { defaultBatchSize: 2 })
    next.registerJob(eventResignRevertJob({ serverName: server, keyProvider: rotatedProvider() }))
    const report = await runUntilIdle(next)

    expect(report.completed).toEqual(['event_resign_revert'])
    expect(kit.homeserver.undoLog()).toEqual([])
    for (const signed of events) {
      expect(stored(kit.homeserver, signed.eventId)).toStrictEqual(signed.event)
    }
  })

  it('retries next batch an event the host changed between read and write, never writing the stale copy', async () => {
    const events = await Promise.all(
      ['a', 'b'].map((body) => signedMessage('@a:example.org', body)),
    )
    const target = events[0] as SignedEvent
    let armed = false
    let calls = 0
    const kit = setup({
      batchSize: 2,
      provider: hookedProvider(rotatedProvider(), () => {
        if (!armed || ++calls !== 1) return
        const now = stored(kit.homeserver, target.eventId)
        kit.homeserver.writeStoredJson(
          target.eventId,
          JSON.stringify({ ...now, unsigned: { x: 1 } }),
        )
      }),
    })
    store(kit.homeserver, events)
    await run(kit, 'event_resign')
    armed = true

    const report = await run(kit, 'event_resign_revert')

    expect(report.completed).toEqual(['event_resign_revert'])
    expect(totals(kit.batches)).toEqual({ reverted: 2 })
    expect(kit.batches[0]?.skipped).toBe(2)
    expect(stored(kit.homeserver, target.eventId)).toStrictEqual({
      ...target.event,
      unsigned: { x: 1 },
    })
    expect(kit.homeserver.undoLog()).toEqual([])
  })

  it('counts an event changed again on retry as changed-concurrently, keeping the host write and the entry', async () => {
    const target = await signedMessage('@alice:example.org', 'a')
    let armed = false
    let calls = 0
    const kit = setup({
      provider: hookedProvider(rotatedProvider(), () => {
        if (!armed) return
        const now = stored(kit.homeserver, target.eventId)
        const text = JSON.stringify({ ...now, unsigned: { n: ++calls } })
        kit.homeserver.writeStoredJson(target.eventId, text)
      }),
    })
    store(kit.homeserver, [target])
    await run(kit, 'event_resign')
    armed = true

    const report = await run(kit, 'event_resign_revert')
    armed = false

    expect(report.completed).toEqual(['event_resign_revert'])
    expect(totals(kit.batches)).toEqual({ 'changed-concurrently': 1 })
    expect(stored(kit.homeserver, target.eventId).unsigned).toEqual({ n: calls })
    expect(signaturesOf(stored(kit.homeserver, target.eventId), server)).toHaveProperty([
      'ed25519:new',
    ])
    expect(kit.homeserver.undoLog()).toHaveLength(1)
  })

  it('undoes only the latest re-sign of an event re-signed twice; a second run undoes the first', async () => {
    const signed = await signedMessage('@alice:example.org', 'twice')
    const provider = rotatedProvider()
    const kit = setup({ provider })
    store(kit.homeserver, [signed])
    await run(kit, 'event_resign')
    const afterFirst = stored(kit.homeserver, signed.eventId)
    provider.rotate(generateSigningKey('third'), 1_800_000_000_000)
    await run(kit, 'event_resign')

    await run(kit, 'event_resign_revert')
    expect(totals(kit.batches)).toEqual({ reverted: 1, 'key-absent': 1 })
    expect(stored(kit.homeserver, signed.eventId)).toStrictEqual(afterFirst)

    await run(kit, 'event_resign_revert')
    expect(totals(kit.batches)).toEqual({ reverted: 1 })
    expect(stored(kit.homeserver, signed.eventId)).toStrictEqual(signed.event)
    expect(kit.homeserver.undoLog()).toEqual([])
  })

  it('leaves an entry whose event was edited or is no longer signed by the added key, and logs it once', async () => {
    const [kept, edited] = await Promise.all(
      ['kept', 'edited'].map((body) => signedMessage('@alice:example.org', body)),
    )
    const warnings: Array<Record<string, unknown>> = []
    const logger = {
      debug() {},
      info() {},
      warn: (details: Record<string, unknown>) => warnings.push(details),
      error() {},
    }
    const kit = makeHomeserver()
    kit.runner.registerJob(eventResignJob({ serverName: server, keyProvider: rotatedProvider() }))
    kit.runner.registerJob(
      eventResignRevertJob({ serverName: server, keyProvider: rotatedProvider(), logger }),
    )
    const batches: UpdateBatchEvent[] = []
    kit.runner.on('update:batch', (event) => batches.push(event))
    store(kit.homeserver, [kept as SignedEvent, edited as SignedEvent])
    await kit.runner.startJob('event_resign', {})
    await runUntilIdle(kit.runner)
    const resigned = stored(kit.homeserver, (edited as SignedEvent).eventId)
    const content = { ...(resigned.content as JsonObject), body: 'host edit' }
    kit.homeserver.writeStoredJson(
      (edited as SignedEvent).eventId,
      JSON.stringify({ ...resigned, content }),
    )
    const keptNow = stored(kit.homeserver, (kept as SignedEvent).eventId)
    const { [server]: _ours, ...others } = keptNow.signatures as JsonObject
    kit.homeserver.writeStoredJson(
      (kept as SignedEvent).eventId,
      JSON.stringify({ ...keptNow, signatures: others }),
    )
    const before = kit.homeserver.undoLog()
    batches.length = 0

    await kit.runner.startJob('event_resign_revert', {})
    await runUntilIdle(kit.runner)

    expect(totals(batches)).toEqual({ 'key-absent': 1, unprovable: 1 })
    expect(kit.homeserver.undoLog()).toEqual(before)
    expect(warnings).toEqual([
      expect.objectContaining({
        update: 'event_resign_revert',
        event_id: (edited as SignedEvent).eventId,
        reason: 'unprovable',
      }),
    ])
  })

  it('refuses every parameter and is startable, with the events and undo_log capabilities', async () => {
    const job = eventResignRevertJob({ serverName: server, keyProvider: rotatedProvider() })

    expect(job.startable).toBe(true)
    expect(job.updates[0]?.capabilities).toEqual(['events', 'undo_log'])
    expect(job.validate?.({})).toBeNull()
    expect(job.validate?.({ job_name: 'event_resign_revert' })).toBeNull()
    expect(() => job.validate?.({ old_key: 'x' })).toThrow(JobParameterError)
    expect(() => job.validate?.([])).toThrow(JobParameterError)
    expect(() => eventResignRevertJob({ serverName: '', keyProvider: rotatedProvider() })).toThrow(
      TypeError,
    )
  })
})

describe('undo_log_prune', () => {
  it("deletes only our server's entries, counting them, after which a revert has nothing to undo", async () => {
    const events = await Promise.all(
      ['a', 'b', 'c'].map((body) => signedMessage('@alice:example.org', body)),
    )
    const kit = setup({ batchSize: 2 })
    store(kit.homeserver, events)
    await run(kit, 'event_resign')
    const resigned = events.map((signed) => kit.homeserver.storedJson(signed.eventId))
    const foreign = await signedMessage('@bob:elsewhere.example', 'f')
    kit.homeserver.addEvents([
      { event: foreign.event, event_id: foreign.eventId, stream_ordering: 9, room_version: '10' },
    ])
    const elsewhere = restartedRunner(kit.storage, kit.clock)
    const theirKeys = rotatedProvider()
    elsewhere.registerJob(
      eventResignJob({ serverName: 'elsewhere.example', keyProvider: theirKeys }),
    )
    await elsewhere.startJob('event_resign', {})
    await runUntilIdle(elsewhere)
    const theirs = kit.homeserver.undoLog().filter((entry) => entry.server_name !== server)
    expect(theirs).toHaveLength(1)

    const pruned = await run(kit, 'undo_log_prune')
    expect(pruned.completed).toEqual(['undo_log_prune'])
    expect(totals(kit.batches)).toEqual({ pruned: 3 })
    expect(kit.homeserver.undoLog()).toEqual(theirs)

    await run(kit, 'event_resign_revert')
    expect(totals(kit.batches)).toEqual({ 'not-ours': 1 })
    expect(events.map((signed) => kit.homeserver.storedJson(signed.eventId))).toEqual(resigned)
  })

  it('is not startable through the admin API unless the host says so, and takes no parameters', () => {
    expect(undoLogPruneJob({ serverName: server }).startable).toBe(false)
    expect(undoLogPruneJob({ serverName: server, startable: true }).startable).toBe(true)
    expect(() => undoLogPruneJob({ serverName: server }).validate?.({ all: true })).toThrow(
      JobParameterError,
    )
  })
})
