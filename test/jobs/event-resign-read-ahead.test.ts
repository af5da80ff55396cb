import {
  type BatchCommit,
  type EventsReader,
  eventResignJob,
  type OwnEventsQuery,
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
  rotatedProvider,
  type SignedEvent,
  signedMessage,
} from './job-setup.js'

const server = 'example.org'

/** event_resign over `count` messages, with every page read and commit logged in order. */
async function setup(count: number, provider = rotatedProvider()) {
  const kit = makeHomeserver({ defaultBatchSize: 2 })
  const events = await Promise.all(
    Array.from({ length: count }, (_, i) => signedMessage('@alice:example.org', `m${i}`)),
  )
  kit.homeserver.addEvents(
    events.map((signed, index) => ({
      event: signed.event,
      event_id: signed.eventId,
      stream_ordering: index + 1,
      room_version: signed.roomVersion,
    })),
  )
  const log: string[] = []
  const reader = kit.storage.reader('events') as EventsReader
  const page = reader.pageOwnEvents.bind(reader)
  reader.pageOwnEvents = (query: OwnEventsQuery, signal?: AbortSignal) => {
    log.push(`page after ${query.after}`)
    return page(query, signal)
  }
  const commit = kit.storage.commitBatch.bind(kit.storage)
  const commits = { fail: 0 }
  kit.storage.commitBatch = async (batch: BatchCommit) => {
    if (commits.fail > 0) {
      commits.fail--
      log.push('commit failed')
      throw new Error('the disk is full')
    }
    const result = await commit(batch)
    log.push(batch.done ? 'commit, done' : 'commit')
    return result
  }
  kit.runner.registerJob(eventResignJob({ serverName: server, keyProvider: provider }))
  const batches: UpdateBatchEvent[] = []
  kit.runner.on('update:batch', (batch) => batches.push(batch))
  return { ...kit, events, log, commits, batches }
}

function resignedCount(batches: readonly UpdateBatchEvent[]): number {
  return batches.reduce((sum, batch) => sum + (batch.outcomes.resigned ?? 0), 0)
}

async function expectEveryEventResignedOnce(kit: Awaited<ReturnType<typeof setup>>) {
  expect(resignedCount(kit.batches)).toBe(kit.events.length)
  expect(kit.homeserver.undoLog().map((entry) => entry.event_id)).toEqual(
    kit.events.map((event) => event.eventId),
  )
  for (const { eventId } of kit.events) {
    const stored = JSON.parse(kit.homeserver.storedJson(eventId) as string)
    expect(Object.keys(stored.signatures[server])).toEqual([newKey.keyId])
    expect(await verifyEventSignature(stored, '10', server, newKey.verifyKey)).toBe(true)
  }
}

describe('event_resign reads the next page while the runner commits the batch before it', () => {
  it('reads each page once, the next one before the commit of the current one', async () => {
    const kit = await setup(5)

    await kit.runner.startJob('event_resign', {})
    await runUntilIdle(kit.runner)

    expect(kit.log).toEqual([
      `page after ${-(2 ** 31)}`,
      'page after 2',
      'commit',
      'page after 4',
      'commit',
      'page after 5',
      'commit',
      'commit, done',
    ])
    await expectEveryEventResignedOnce(kit)
  })

  it('drops the page read ahead when the batch before it did not commit, and reads again', async () => {
    const kit = await setup(5)
    kit.commits.fail = 1

    await kit.runner.startJob('event_resign', {})
    await runUntilIdle(kit.runner)

    expect(kit.log.slice(0, 5)).toEqual([
      `page after ${-(2 ** 31)}`,
      'page after 2',
      'commit failed',
      `page after ${-(2 ** 31)}`,
      'page after 2',
    ])
    await expectEveryEventResignedOnce(kit)
  })

  it('never writes a page read ahead over an event changed since: it is retried and re-signed as it is now', async () => {
    let target: SignedEvent | undefined
    let calls = 0
    const kit = await setup(
      4,
      // The second call of the batch's keys is the read-ahead of the second page, just after it
      // was read: the host rewrites one of its events (stored redacted, as Synapse does later).
      hookedProvider(rotatedProvider(), () => {
        calls++
        if (calls === 2 && target) {
          kit.homeserver.writeStoredJson(
            target.eventId,
            JSON.stringify(redactEvent(target.event, '10')),
          )
        }
      }) as ReturnType<typeof rotatedProvider>,
    )
    target = kit.events[2]

    await kit.runner.startJob('event_resign', {})
    await runUntilIdle(kit.runner)

    expect(kit.batches[1]?.skipped).toBe(2)
    const stored = JSON.parse(kit.homeserver.storedJson(target?.eventId as string) as string)
    expect(stored.content).toEqual({})
    expect(await verifyEventSignature(stored, '10', server, newKey.verifyKey)).toBe(true)
    expect(resignedCount(kit.batches)).toBe(4)
    expect(kit.homeserver.undoLog().map((entry) => entry.event_id)).toEqual([
      kit.events[0]?.eventId,
      kit.events[1]?.eventId,
      kit.events[3]?.eventId,
      kit.events[2]?.eventId,
    ])
  })
})
