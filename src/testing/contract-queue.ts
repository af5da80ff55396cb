import {
  APPEND_UNDO_LOG,
  EVENTS_CAPABILITY,
  REPLACE_EVENT_JSON,
  UNDO_LOG_CAPABILITY,
  type WriteReport,
} from 'matrix-background-updates'
import type { ContractTestFunctions, WithSubject } from './adapter-contract.js'
import { caught, codeOf, contractEvent } from './contract-helpers.js'

const commit = { writes: [], progress: {}, done: false, leaseToken: null } as const

/** Queue semantics, duplicates, the batch transaction and conditional writes. */
export function contractQueueTests(
  { describe, it, expect }: ContractTestFunctions,
  withSubject: WithSubject,
): void {
  describe('queue', () => {
    it('lists queued updates by ordering, then by name, with their fields', () =>
      withSubject(async ({ subject: { storage } }) => {
        await storage.insertUpdates([
          { update_name: 'b', ordering: 1 },
          { update_name: 'c', progress: { after: 5 }, depends_on: 'b' },
          { update_name: 'a', ordering: 1 },
        ])

        expect(await storage.listPendingUpdates()).toEqual([
          { update_name: 'c', progress: { after: 5 }, depends_on: 'b', ordering: 0 },
          { update_name: 'a', progress: {}, depends_on: null, ordering: 1 },
          { update_name: 'b', progress: {}, depends_on: null, ordering: 1 },
        ])
        expect(await storage.readProgress('c')).toEqual({ after: 5 })
        expect(await storage.readProgress('unknown')).toBe(null)
      }))

    it('refuses a duplicate name and queues nothing of that insert', () =>
      withSubject(async ({ subject: { storage } }) => {
        await storage.insertUpdates([{ update_name: 'a' }])
        const error = await caught(() =>
          storage.insertUpdates([{ update_name: 'new' }, { update_name: 'a' }]),
        )
        const twice = await caught(() =>
          storage.insertUpdates([{ update_name: 'x' }, { update_name: 'x' }]),
        )

        expect(codeOf(error)).toBe('ERR_DUPLICATE_UPDATE')
        expect(codeOf(twice)).toBe('ERR_DUPLICATE_UPDATE')
        expect((await storage.listPendingUpdates()).map((row) => row.update_name)).toEqual(['a'])
      }))

    it('refuses to delete an update others depend on, and reports whether one was deleted', () =>
      withSubject(async ({ subject: { storage } }) => {
        await storage.insertUpdates([{ update_name: 'a' }, { update_name: 'b', depends_on: 'a' }])

        expect(codeOf(await caught(() => storage.deleteUpdate('a')))).toBe(
          'ERR_UPDATE_HAS_DEPENDENTS',
        )
        expect(await storage.deleteUpdate('b')).toBe(true)
        expect(await storage.deleteUpdate('b')).toBe(false)
        expect(await storage.deleteUpdate('a')).toBe(true)
      }))
  })

  describe('batch transaction', () => {
    it('stores the progress computed from the write report, and deletes the row when done', () =>
      withSubject(async ({ subject: { storage, homeserver } }) => {
        await homeserver.addEvents([contractEvent(1)])
        const stored = (await homeserver.storedJson('$event1')) as string
        await storage.insertUpdates([{ update_name: 'u' }])
        const writes = [
          {
            capability: EVENTS_CAPABILITY,
            op: REPLACE_EVENT_JSON,
            rows: [
              { event_id: '$event1', expected_json: stored, json: '{"v":2}' },
              { event_id: '$event1', expected_json: stored, json: '{"v":3}' },
            ],
          },
        ]
        const progress = (report: WriteReport) => ({ skipped: report.skippedCount })

        const result = await storage.commitBatch({ ...commit, updateName: 'u', writes, progress })
        const report = result.committed ? result.report : null

        expect(report?.skippedCount).toBe(1)
        expect(report?.writes[0]?.applied).toBe(1)
        expect(await storage.readProgress('u')).toEqual({ skipped: 1 })
        expect(await homeserver.storedJson('$event1')).toBe('{"v":2}')

        await storage.commitBatch({ ...commit, updateName: 'u', done: true })
        expect(await storage.listPendingUpdates()).toEqual([])
      }))

    it('leaves nothing behind when the progress function throws after the writes', () =>
      withSubject(async ({ subject: { storage, homeserver } }) => {
        await homeserver.addEvents([contractEvent(1)])
        const stored = (await homeserver.storedJson('$event1')) as string
        await storage.insertUpdates([{ update_name: 'u', progress: { at: 0 } }])
        const writes = [
          {
            capability: UNDO_LOG_CAPABILITY,
            op: APPEND_UNDO_LOG,
            rows: [
              {
                event_id: '$event1',
                expected_json: stored,
                server_name: 's',
                removed_signatures: {},
                added_key_id: 'ed25519:new',
              },
            ],
          },
          {
            capability: EVENTS_CAPABILITY,
            op: REPLACE_EVENT_JSON,
            rows: [{ event_id: '$event1', expected_json: stored, json: '{}' }],
          },
        ]
        const progress = () => {
          throw new Error('progress fails')
        }

        const error = await caught(() =>
          storage.commitBatch({ ...commit, updateName: 'u', writes, progress }),
        )

        expect((error as Error).message).toBe('progress fails')
        expect(await homeserver.storedJson('$event1')).toBe(stored)
        expect(await homeserver.undoLog()).toEqual([])
        expect(await storage.readProgress('u')).toEqual({ at: 0 })
      }))

    it('rolls back earlier writes when a write names an unknown operation', () =>
      withSubject(async ({ subject: { storage, homeserver } }) => {
        await homeserver.addEvents([contractEvent(1)])
        const stored = (await homeserver.storedJson('$event1')) as string
        await storage.insertUpdates([{ update_name: 'u' }])
        const writes = [
          {
            capability: EVENTS_CAPABILITY,
            op: REPLACE_EVENT_JSON,
            rows: [{ event_id: '$event1', expected_json: stored, json: '{}' }],
          },
          { capability: 'no_such_capability', op: 'put', rows: [{}] },
        ]

        const error = await caught(() =>
          storage.commitBatch({ ...commit, updateName: 'u', writes, done: true }),
        )

        expect(codeOf(error)).toBe('ERR_MISSING_CAPABILITY')
        expect(await homeserver.storedJson('$event1')).toBe(stored)
        expect((await storage.listPendingUpdates()).length).toBe(1)
      }))

    it('commits nothing for an update that is no longer queued', () =>
      withSubject(async ({ subject: { storage, homeserver } }) => {
        await homeserver.addEvents([contractEvent(1)])
        const stored = (await homeserver.storedJson('$event1')) as string
        const writes = [
          {
            capability: EVENTS_CAPABILITY,
            op: REPLACE_EVENT_JSON,
            rows: [{ event_id: '$event1', expected_json: stored, json: '{}' }],
          },
        ]

        const result = await storage.commitBatch({ ...commit, updateName: 'gone', writes })

        expect(result).toEqual({ committed: false, reason: 'update_missing' })
        expect(await homeserver.storedJson('$event1')).toBe(stored)
      }))
  })
}
