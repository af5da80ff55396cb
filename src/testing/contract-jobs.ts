import {
  BackgroundUpdateRunner,
  EVENTS_CAPABILITY,
  type JobDefinition,
  REPLACE_EVENT_JSON,
  type UpdateHandler,
} from 'matrix-background-updates'
import type { ContractTestFunctions, WithSubject } from './adapter-contract.js'
import { builtInJobTests } from './contract-built-in-jobs.js'
import { contractEvent, SERVER } from './contract-helpers.js'
import { runUntilIdle } from './run-until-idle.js'

/** A job that appends a mark to the JSON of each of our events, three per batch. */
function markingJob(onBatch: () => void): JobDefinition {
  const handler: UpdateHandler = async ({ progress, storage }) => {
    onBatch()
    const after = (progress.after as number | undefined) ?? 0
    const query = { serverName: SERVER, after, beforeTs: null, limit: 3 }
    const rows = await storage.reader('events').pageOwnEvents(query)
    if (rows.length === 0) return { items: 0, done: true }

    const replace = rows.map((row) => ({
      event_id: row.event_id,
      expected_json: row.json,
      json: `${row.json} mark`,
    }))
    return {
      items: rows.length,
      writes: [{ capability: EVENTS_CAPABILITY, op: REPLACE_EVENT_JSON, rows: replace }],
      progress: { after: rows[rows.length - 1]?.stream_ordering ?? after },
    }
  }

  return {
    name: 'contract_mark',
    updates: [{ name: 'contract_mark', handler, capabilities: ['events'] }],
  }
}

/** Resuming after a stop, and every built-in job the host passes, end to end. */
export function contractJobTests(
  { describe, it, expect }: ContractTestFunctions,
  withSubject: WithSubject,
): void {
  describe('runner over the adapter', () => {
    it('resumes after a stop where the last committed batch left off', () =>
      withSubject(async ({ clock, subject: { storage, homeserver } }) => {
        await homeserver.addEvents(
          Array.from({ length: 10 }, (_, index) => contractEvent(index + 1)),
        )
        let batches = 0
        let stopping: Promise<void> = new Promise(() => undefined)
        let stopRequested: () => void = () => undefined
        const requested = new Promise<void>((resolve) => {
          stopRequested = resolve
        })
        const first = new BackgroundUpdateRunner({ storage, clock, sleepEnabled: false })
        first.registerJob(
          markingJob(() => {
            batches++
            if (batches !== 2) return
            stopping = first.stop()
            stopRequested()
          }),
        )
        await first.startJob('contract_mark', {})
        first.start()
        await requested
        await stopping
        const progress = await storage.readProgress('contract_mark')

        const second = new BackgroundUpdateRunner({ storage, clock, sleepEnabled: false })
        second.registerJob(markingJob(() => undefined))
        await runUntilIdle(second)

        expect(progress).toEqual({ after: 6 })
        expect(await storage.listPendingUpdates()).toEqual([])
        const json = await homeserver.storedJson('$event10')
        expect(json?.endsWith('} mark')).toBe(true)
        const marks = await Promise.all(
          Array.from(
            { length: 10 },
            async (_, index) =>
              (await homeserver.storedJson(`$event${index + 1}`))?.split(' mark').length,
          ),
        )
        expect(marks).toEqual(Array(10).fill(2))
      }))
  })

  builtInJobTests({ describe, it, expect }, withSubject)
}
