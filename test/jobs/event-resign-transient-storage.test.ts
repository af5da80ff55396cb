/**
 * Storage that fails mid-batch with transient errors (SQLITE_BUSY, a connection reset) under
 * event_resign: the batch rolls back, the runner retries without counting towards its abort, and
 * the job completes with every event re-signed once and nothing lost.
 */
import fc from 'fast-check'
import {
  BackgroundUpdateRunner,
  eventResignJob,
  type MemoryBuiltInInstance,
  type MemoryCapabilityModule,
  type MemoryHomeserver,
  MemoryStorageAdapter,
  memoryHomeserverCapabilities,
  type StorageWrite,
  verifyEventSignature,
} from 'matrix-background-updates'
import { FakeClock } from 'matrix-background-updates/testing'
import { describe, expect, it } from 'vitest'
import { newKey, rotatedProvider, type SignedEvent, signedMessage } from './job-setup.js'

const server = 'example.org'

/** Decides, per call of `capability.method`, whether that call fails. */
type FailurePlan = (call: string) => boolean

function transientError(call: string): Error {
  const reset = call.startsWith('events.')
  return Object.assign(new Error(reset ? 'read ECONNRESET' : 'database is locked'), {
    code: reset ? 'ECONNRESET' : 'SQLITE_BUSY',
  })
}

/** A write that applies half its rows, then fails as a busy database does mid-statement. */
function failingHalfway(apply: (write: StorageWrite) => unknown, call: string) {
  return (write: StorageWrite) => {
    apply({ ...write, rows: write.rows.slice(0, Math.ceil(write.rows.length / 2)) })
    throw transientError(call)
  }
}

/** A reader whose methods fail before reading when the plan says so. */
function flakyReader(reader: object, name: string, fails: FailurePlan): object {
  return new Proxy(reader, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver)
      if (typeof value !== 'function') return value
      const call = `${name}.${String(property)}`
      return (...args: unknown[]) =>
        fails(call) ? Promise.reject(transientError(call)) : value.apply(target, args)
    },
  })
}

/** The built-in memory modules, with every write and read going through the failure plan. */
function flakyModules(fails: FailurePlan): MemoryCapabilityModule[] {
  return memoryHomeserverCapabilities().map((module) => ({
    name: module.name,
    install(context) {
      const instance = module.install(context)
      const operations = Object.fromEntries(
        Object.entries(instance.operations).map(([op, apply]) => {
          const call = `${module.name}.${op}`
          const halfway = failingHalfway(apply, call)
          return [op, (write: StorageWrite) => (fails(call) ? halfway(write) : apply(write))]
        }),
      )
      const reader = flakyReader(instance.reader as object, module.name, fails)
      return { ...instance, reader, operations }
    },
  }))
}

/** What a host would see: every event's stored text and the undo log. */
function snapshot(homeserver: MemoryHomeserver, events: readonly SignedEvent[]) {
  return {
    texts: events.map((signed) => homeserver.storedJson(signed.eventId)),
    undoLog: homeserver.undoLog(),
  }
}

async function signedEvents(count: number): Promise<SignedEvent[]> {
  const bodies = Array.from({ length: count }, (_, index) => `m${index}`)
  return Promise.all(bodies.map((body) => signedMessage('@alice:example.org', body)))
}

/**
 * Runs event_resign over storage failing as `fails` says until it completes, checking after every
 * failed batch that nothing of it was left behind. Returns what the run saw.
 */
async function resignThroughFailures(events: readonly SignedEvent[], fails: FailurePlan) {
  const clock = new FakeClock()
  const storage = new MemoryStorageAdapter({ clock, capabilities: flakyModules(fails) })
  const homeserver = storage.instance<MemoryBuiltInInstance>('events').homeserver
  homeserver.addEvents(
    events.map((signed, index) => ({
      event: signed.event,
      event_id: signed.eventId,
      stream_ordering: index + 1,
      room_version: signed.roomVersion,
    })),
  )
  const runner = new BackgroundUpdateRunner({
    storage,
    clock,
    sleepEnabled: false,
    defaultBatchSize: 3,
    retryMaxDelayMs: 800,
  })
  runner.registerJob(eventResignJob({ serverName: server, keyProvider: rotatedProvider() }))
  let committed = snapshot(homeserver, events)
  const leftBehind: unknown[] = []
  const transient: boolean[] = []
  runner.on('update:batch', () => {
    committed = snapshot(homeserver, events)
  })
  runner.on('update:error', (event) => {
    transient.push(event.transient)
    const now = snapshot(homeserver, events)
    if (JSON.stringify(now) !== JSON.stringify(committed)) leftBehind.push(now)
  })

  await runner.startJob('event_resign', {})
  let completed = false
  void runner.whenCompleted('event_resign').then(() => {
    completed = true
  })
  runner.start()
  for (let turn = 0; turn < 10_000 && !completed; turn++) await clock.advance(100)
  await runner.stop()

  return { completed, homeserver, leftBehind, transient, status: await runner.status() }
}

async function expectEveryEventResignedOnce(
  homeserver: MemoryHomeserver,
  events: readonly SignedEvent[],
) {
  for (const signed of events) {
    const stored = JSON.parse(homeserver.storedJson(signed.eventId) as string)
    const ours = (stored.signatures as Record<string, object>)[server]
    expect(Object.keys(ours ?? {})).toEqual([newKey.keyId])
    expect(await verifyEventSignature(stored, '10', server, newKey.verifyKey)).toBe(true)
    expect({ ...stored, signatures: undefined }).toEqual({ ...signed.event, signatures: undefined })
  }
  const logged = homeserver.undoLog().map((entry) => entry.event_id)
  expect(logged).toEqual(events.map((signed) => signed.eventId))
}

describe('event_resign over storage failing with transient errors', () => {
  it('rolls back each failed batch and completes, more than five failures in a row not aborting it', async () => {
    const events = await signedEvents(10)
    const calls = new Map<string, number>()
    const fails: FailurePlan = (call) => {
      const count = (calls.get(call) ?? 0) + 1
      calls.set(call, count)
      if (call === 'events.replace_json') return count <= 7
      if (call === 'undo_log.append') return count % 3 === 0
      return call === 'events.pageOwnEvents' && (count === 9 || count === 10)
    }

    const run = await resignThroughFailures(events, fails)

    expect(run.completed).toBe(true)
    expect(run.leftBehind).toEqual([])
    expect(run.transient.length).toBeGreaterThan(5)
    expect(run.transient.every(Boolean)).toBe(true)
    expect(run.status.last_error).toBeNull()
    expect(run.status.state).not.toBe('aborted')
    await expectEveryEventResignedOnce(run.homeserver, events)
  })

  it('completes with nothing lost whichever calls fail', async () => {
    const events = await signedEvents(7)
    await fc.assert(
      fc.asyncProperty(fc.array(fc.boolean(), { minLength: 1, maxLength: 40 }), async (plan) => {
        let index = 0
        // Each call takes the next planned answer; past the plan, nothing fails.
        const run = await resignThroughFailures(events, () => plan[index++] ?? false)

        expect(run.completed).toBe(true)
        expect(run.leftBehind).toEqual([])
        expect(run.transient.every(Boolean)).toBe(true)
        await expectEveryEventResignedOnce(run.homeserver, events)
      }),
      { numRuns: process.env.CI === 'true' ? 100 : 25 },
    )
  })
})
