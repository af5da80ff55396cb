/**
 * event_resign with `offload: resignWorkers(...)` leaves the store exactly as without it: the same
 * event texts, the same undo log and the same outcome counts, over a generated data set run in
 * small batches. The workers run the built dist/resign-worker.js (`npm test` builds it first).
 */
import {
  computeEventId,
  eventResignJob,
  type JsonObject,
  type MemoryEventSeed,
  type MemoryHomeserver,
  MemoryKeyProvider,
  type ResignOffload,
  type ResignOffloadRequest,
  type SigningKey,
  signEvent,
  type UpdateBatchEvent,
} from 'matrix-background-updates'
import { resignWorkers } from 'matrix-background-updates/node'
import {
  type DataSetSummary,
  generateDataSet,
  runUntilIdle,
} from 'matrix-background-updates/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeHomeserver, newKey, oldKeyParam } from './job-setup.js'

const WORKER_MODULE = new URL('../../dist/resign-worker.js', import.meta.url)

const DATA_SET = { seed: 23, rooms: 24, messages: 60, redactedShare: 0.2, malformedRows: true }

/** Seeds `homeserver` through the data set generator and keeps the ID of every event. */
function recording(homeserver: MemoryHomeserver, eventIds: string[]) {
  return {
    addEvents(seeds: readonly MemoryEventSeed[]) {
      eventIds.push(...seeds.map((seed) => seed.event_id as string))
      homeserver.addEvents(seeds)
    },
    setRoomState: (roomId: string, state: readonly unknown[]) =>
      homeserver.setRoomState(roomId, state),
    addUsers: (users: Parameters<MemoryHomeserver['addUsers']>[0]) => homeserver.addUsers(users),
    setStreamPosition: (position: number) => homeserver.setStreamPosition(position),
  }
}

/** Rows the data set has none of: a rejected event, an ID conflict and an event already current. */
async function extraRows(summary: DataSetSummary): Promise<MemoryEventSeed[]> {
  const server = summary.serverName
  const message = (body: string): JsonObject => ({
    type: 'm.room.message',
    room_id: `!extra:${server}`,
    sender: `@extra:${server}`,
    content: { msgtype: 'm.text', body },
    depth: 1,
    prev_events: [],
    auth_events: [],
    origin_server_ts: 1_710_000_000_000,
  })
  const signed = async (body: string, key: SigningKey) => {
    const event = await signEvent(message(body), '10', server, key)
    return { event, eventId: computeEventId(event, '10') }
  }
  const rejected = await signed('rejected', summary.oldKey)
  const conflict = await signed('conflict', summary.oldKey)
  const current = await signed('current', newKey)
  const rows = [
    { event: rejected.event, event_id: rejected.eventId, rejected: true },
    { event: { ...conflict.event, event_id: '$inside' }, event_id: conflict.eventId },
    { event: current.event, event_id: current.eventId },
  ]
  return rows.map((row, index) => ({
    ...row,
    stream_ordering: summary.lastStreamOrdering + index + 1,
    room_version: '10',
  }))
}

function totals(batches: readonly UpdateBatchEvent[]): Record<string, number> {
  const sum: Record<string, number> = {}
  for (const batch of batches) {
    for (const [kind, count] of Object.entries(batch.outcomes)) sum[kind] = (sum[kind] ?? 0) + count
  }
  return sum
}

/**
 * Runs event_resign to its end in batches of 7 over a freshly seeded store, with `offload` when
 * given, and returns what the store holds afterwards.
 */
async function runJob(params: (summary: DataSetSummary) => JsonObject, offload?: ResignOffload) {
  const { homeserver, runner } = makeHomeserver({ defaultBatchSize: 7, minimumBatchSize: 7 })
  const eventIds: string[] = []
  const summary = await generateDataSet(recording(homeserver, eventIds), DATA_SET)
  const extra = await extraRows(summary)
  homeserver.addEvents(extra)
  eventIds.push(...extra.map((row) => row.event_id as string))
  const keyProvider = new MemoryKeyProvider(summary.oldKey)
  keyProvider.rotate(newKey, 1_700_000_000_000)
  runner.registerJob(eventResignJob({ serverName: summary.serverName, keyProvider, offload }))
  const batches: UpdateBatchEvent[] = []
  runner.on('update:batch', (batch) => batches.push(batch))

  await runner.startJob('event_resign', params(summary))
  const report = await runUntilIdle(runner)

  return {
    completed: report.completed,
    texts: eventIds.map((eventId) => [eventId, homeserver.storedJson(eventId)]),
    undoLog: homeserver.undoLog(),
    outcomes: totals(batches),
  }
}

/** An offload that passes batches on to `inner` and counts them by kind. */
function counted(inner: ResignOffload) {
  const kinds: string[] = []
  const offload: ResignOffload = {
    resignBatch(request: ResignOffloadRequest) {
      kinds.push(request.kind)
      return inner.resignBatch(request)
    },
  }
  return { offload, kinds }
}

const PARAMS: Array<[string, (summary: DataSetSummary) => JsonObject]> = [
  ['without old_key', () => ({})],
  ['with old_key', (summary) => ({ old_key: oldKeyParam(summary.oldKey) })],
]

describe('event_resign with resignWorkers as its offload', () => {
  const workers = resignWorkers({
    signer: 'node',
    threads: 2,
    chunkSize: 3,
    workerModule: WORKER_MODULE,
  })
  afterAll(() => workers.close())

  describe.each(PARAMS)('%s', (_, params) => {
    let inThread: Awaited<ReturnType<typeof runJob>>
    beforeAll(async () => {
      inThread = await runJob(params)
    })

    it('re-signs, skips and counts as the job does on the calling thread', async () => {
      expect(inThread.completed).toEqual(['event_resign'])
      expect(inThread.outcomes.resigned).toBeGreaterThan(50)
      expect(inThread.outcomes).toMatchObject({ rejected: 1, malformed: 3, unprovable: 1 })
      expect(inThread.undoLog).toHaveLength(inThread.outcomes.resigned ?? 0)
      const { offload, kinds } = counted(workers)

      const offloaded = await runJob(params, offload)

      expect(kinds.length).toBeGreaterThan(1)
      expect(new Set(kinds)).toEqual(new Set(['texts']))
      expect(offloaded.completed).toEqual(['event_resign'])
      expect(offloaded.outcomes).toEqual(inThread.outcomes)
      expect(offloaded.undoLog).toEqual(inThread.undoLog)
      expect(offloaded.texts).toEqual(inThread.texts)
    })
  })
})
