import {
  APPEND_UNDO_LOG,
  BackgroundUpdateRunner,
  computeEventId,
  EVENTS_CAPABILITY,
  eventResignJob,
  eventResignRevertJob,
  generateSigningKey,
  MemoryKeyProvider,
  PRUNE_UNDO_LOG,
  REMOVE_UNDO_LOG,
  REPLACE_EVENT_JSON,
  type StorageAdapter,
  type StorageWrite,
  signEvent,
  UNDO_LOG_CAPABILITY,
  type UndoLogAppendRow,
  undoLogPruneJob,
} from 'matrix-background-updates'
import type { ContractHomeserver, ContractTestFunctions, WithSubject } from './adapter-contract.js'
import { contractEvent, SERVER } from './contract-helpers.js'
import type { FakeClock } from './fake-clock.js'
import { runUntilIdle } from './run-until-idle.js'

/** Commits `writes` as the one batch of a fresh update and returns the report. */
async function commit(storage: StorageAdapter, writes: StorageWrite[]) {
  const updateName = `contract_${Math.random().toString(36).slice(2)}`
  await storage.insertUpdates([{ update_name: updateName }])
  const result = await storage.commitBatch({
    updateName,
    writes,
    progress: {},
    done: true,
    leaseToken: null,
  })
  if (!result.committed) throw new Error(`the batch did not commit: ${result.reason}`)

  return result.report
}

/** Appends one entry per event, for `server`, each event's stored text being the expected one. */
async function appendEntries(
  storage: StorageAdapter,
  homeserver: ContractHomeserver,
  eventIds: readonly string[],
  server = SERVER,
) {
  const rows: UndoLogAppendRow[] = []
  for (const eventId of eventIds) {
    rows.push({
      event_id: eventId,
      expected_json: (await homeserver.storedJson(eventId)) as string,
      server_name: server,
      removed_signatures: { 'ed25519:old': 'c2ln' },
      added_key_id: 'ed25519:new',
    })
  }
  await commit(storage, [{ capability: UNDO_LOG_CAPABILITY, op: APPEND_UNDO_LOG, rows }])
}

/** Signed events of room version 10 from our server, seeded in stream order. */
async function seedSigned(homeserver: ContractHomeserver, count: number, key: unknown) {
  const seeds = []
  for (let index = 1; index <= count; index++) {
    const { event: unsigned, ...seed } = contractEvent(index)
    const { event_id: _id, ...body } = unsigned as Record<string, unknown>
    const event = await signEvent(body, '10', SERVER, key as Parameters<typeof signEvent>[3])
    seeds.push({ ...seed, event, event_id: computeEventId(event, '10') })
  }
  await homeserver.addEvents(seeds)
  return seeds.map((seed) => seed.event_id)
}

function runner(storage: StorageAdapter, clock: FakeClock) {
  return new BackgroundUpdateRunner({ storage, clock, sleepEnabled: false, defaultBatchSize: 2 })
}

/**
 * The `undo_log` operations of `event_resign_revert` and `undo_log_prune` (`remove`, `prune`) and
 * the revert end to end. Kept apart from the other capability checks so the SQL adapters can take
 * them up on their own.
 */
export function contractUndoRevertTests(
  { describe, it, expect }: ContractTestFunctions,
  withSubject: WithSubject,
): void {
  describe('undo log revert and prune', () => {
    it('removes an entry only where its event text is unchanged, as the event write beside it', () =>
      withSubject(async ({ subject: { storage, homeserver } }) => {
        await homeserver.addEvents([contractEvent(1), contractEvent(2)])
        await appendEntries(storage, homeserver, ['$event1', '$event2'])
        const [one, two] = await storage.reader('undo_log').page(0, 10)
        const text1 = (await homeserver.storedJson('$event1')) as string
        const row = (id: number | undefined, eventId: string, expected: string) => ({
          id,
          event_id: eventId,
          expected_json: expected,
        })

        const report = await commit(storage, [
          {
            capability: UNDO_LOG_CAPABILITY,
            op: REMOVE_UNDO_LOG,
            rows: [row(one?.id, '$event1', text1), row(two?.id, '$event2', 'changed')],
          },
          {
            capability: EVENTS_CAPABILITY,
            op: REPLACE_EVENT_JSON,
            rows: [{ event_id: '$event1', expected_json: text1, json: '{"reverted":1}' }],
          },
        ])

        expect(report.writes.map((write) => write.applied)).toEqual([1, 1])
        expect(report.writes[0]?.skipped).toEqual([row(two?.id, '$event2', 'changed')])
        expect(await storage.reader('undo_log').page(0, 10)).toEqual([two])
        expect(await homeserver.storedJson('$event1')).toBe('{"reverted":1}')
      }))

    it('treats a removed entry that is no longer stored as applied, deleting nothing else', () =>
      withSubject(async ({ subject: { storage, homeserver } }) => {
        await homeserver.addEvents([contractEvent(1)])
        await appendEntries(storage, homeserver, ['$event1'])
        const text = (await homeserver.storedJson('$event1')) as string
        const rows = [{ id: 999_999, event_id: '$event1', expected_json: text }]

        const report = await commit(storage, [
          { capability: UNDO_LOG_CAPABILITY, op: REMOVE_UNDO_LOG, rows },
        ])

        expect(report.skippedCount).toBe(0)
        expect((await storage.reader('undo_log').page(0, 10)).length).toBe(1)
      }))

    it("prunes one server's entries up to an id, leaving later ones and other servers'", () =>
      withSubject(async ({ subject: { storage, homeserver } }) => {
        await homeserver.addEvents([1, 2, 3, 4].map((index) => contractEvent(index)))
        await appendEntries(storage, homeserver, ['$event1', '$event2'])
        await appendEntries(storage, homeserver, ['$event3'], 'other.example')
        await appendEntries(storage, homeserver, ['$event4'])
        const [, , third, fourth] = await storage.reader('undo_log').page(0, 10)

        const rows = [{ server_name: SERVER, up_to_id: third?.id }]
        await commit(storage, [{ capability: UNDO_LOG_CAPABILITY, op: PRUNE_UNDO_LOG, rows }])

        const left = await storage.reader('undo_log').page(0, 10)
        expect(left.map((entry) => entry.event_id)).toEqual(['$event3', '$event4'])
        const after = await storage.reader('undo_log').page(fourth?.id ?? 0, 10)
        expect(after).toEqual([])
      }))

    it('gives re-signed events back their exact old signatures, then prunes nothing left', () =>
      withSubject(async ({ clock, subject: { storage, homeserver } }) => {
        const oldKey = generateSigningKey('old')
        const keyProvider = new MemoryKeyProvider(oldKey)
        keyProvider.rotate(generateSigningKey('new'), 1_700_000_000_000)
        const ids = await seedSigned(homeserver, 5, oldKey)
        const before = await Promise.all(ids.map((id) => homeserver.storedJson(id)))
        const first = runner(storage, clock)
        first.registerJob(eventResignJob({ serverName: SERVER, keyProvider }))
        first.registerJob(eventResignRevertJob({ serverName: SERVER, keyProvider }))
        first.registerJob(undoLogPruneJob({ serverName: SERVER }))

        await first.startJob('event_resign', {})
        await runUntilIdle(first)
        expect((await homeserver.undoLog()).length).toBe(5)
        await first.startJob('event_resign_revert', {})
        await runUntilIdle(first)

        const after = await Promise.all(ids.map((id) => homeserver.storedJson(id)))
        expect(after.map((text) => JSON.parse(text as string))).toEqual(
          before.map((text) => JSON.parse(text as string)),
        )
        expect(await homeserver.undoLog()).toEqual([])
        await first.startJob('undo_log_prune', {})
        expect((await runUntilIdle(first)).completed).toEqual(['undo_log_prune'])
      }))
  })
}
