import { TypedEmitter } from 'matrix-background-updates'
import { FakeClock, runUntilIdle, seedUpdates } from 'matrix-background-updates/testing'
import { describe, expect, it } from 'vitest'
import { makeRunner, singleUpdateJob } from './setup.js'

describe('events', () => {
  it('emits start, batch, complete and idle in order with Synapse field names', async () => {
    const { clock, storage, runner } = makeRunner()
    runner.registerJob(
      singleUpdateJob('evented', async ({ progress }) => {
        clock.tick(4)
        return progress.again ? { items: 2, done: true } : { items: 3, progress: { again: true } }
      }),
    )
    await seedUpdates(storage, ['evented'])
    const seen: string[] = []
    runner.on('update:start', ({ name }) => seen.push(`start ${name}`))
    runner.on('update:batch', (event) =>
      seen.push(`batch ${event.items} ${event.batch_size} ${event.duration_ms}`),
    )
    runner.on('update:complete', (event) =>
      seen.push(`complete ${event.total_item_count} ${event.total_duration_ms}`),
    )
    runner.on('runner:idle', () => seen.push('idle'))

    await runUntilIdle(runner)

    expect(seen).toEqual(['start evented', 'batch 3 100 4', 'batch 2 75 4', 'complete 5 8', 'idle'])
  })

  it('keeps running when a listener throws or rejects, and logs what it threw', async () => {
    const logged: string[] = []
    const log = (details: Record<string, unknown>, message: string) =>
      logged.push(`${message}: ${(details.err as Error | undefined)?.message ?? ''}`)
    const { storage, runner } = makeRunner({
      logger: { debug: () => {}, info: () => {}, warn: log, error: log },
    })
    runner.registerJob(singleUpdateJob('sturdy', async () => ({ items: 1, done: true })))
    await seedUpdates(storage, ['sturdy'])
    runner.on('update:batch', () => {
      throw new Error('listener broke')
    })
    runner.on('update:complete', async () => {
      throw new Error('async listener broke')
    })

    const report = await runUntilIdle(runner)
    await Promise.resolve()

    expect(report.completed).toEqual(['sturdy'])
    expect(report.failures).toBe(0)
    expect(logged).toContain('A background update event listener threw: listener broke')
    expect(logged).toContain('A background update event listener threw: async listener broke')
  })

  it('supports once and off on its small emitter', () => {
    const emitter = new TypedEmitter<{ ping: (n: number) => void }>()
    const heard: number[] = []
    const listener = (n: number) => heard.push(n)
    emitter.once('ping', (n) => heard.push(n * 10))
    emitter.on('ping', listener)

    emitter.emit('ping', 1)
    emitter.emit('ping', 2)
    emitter.off('ping', listener)
    const delivered = emitter.emit('ping', 3)

    expect(heard).toEqual([10, 1, 2])
    expect(delivered).toBe(false)
    expect(() => emitter.on('ping', 'nope' as never)).toThrow(TypeError)
  })
})

describe('status', () => {
  it('reports null average_items_per_ms before the first batch, then the averaged rate', async () => {
    const { clock, storage, runner } = makeRunner({ sleepEnabled: true })
    runner.registerJob(
      singleUpdateJob('measured', async ({ progress }) => {
        clock.tick(1000)
        const batch = ((progress.batch as number | undefined) ?? 0) + 1
        return {
          items: 100,
          progress: { batch },
          fractionDone: batch / 4,
          outcomes: { rewritten: 90, skipped: 10 },
        }
      }),
    )
    await seedUpdates(storage, ['measured', { update_name: 'after', ordering: 5 }])

    runner.start()
    await clock.advance(500)
    const before = await runner.status()
    await clock.advance(500)
    const after = await runner.status()
    await runner.stop()

    expect(before.current_update).toMatchObject({
      name: 'measured',
      total_item_count: 0,
      average_items_per_ms: null,
      fraction_done: null,
      eta_ms: null,
    })
    expect(after).toEqual({
      database: 'master',
      enabled: true,
      state: 'running',
      current_update: {
        name: 'measured',
        total_item_count: 100,
        total_duration_ms: 1000,
        average_items_per_ms: 0.1,
        fraction_done: 0.25,
        eta_ms: 3000,
        outcomes: { rewritten: 90, skipped: 10 },
      },
      last_error: null,
      pending_updates: ['measured', 'after'],
      missing_handlers: ['after'],
    })
  })

  it('reports idle with no current update when the queue is empty', async () => {
    const { runner } = makeRunner()

    await runUntilIdle(runner)

    expect(await runner.status()).toMatchObject({
      state: 'idle',
      current_update: null,
      pending_updates: [],
      last_error: null,
    })
  })
})

describe('fake clock', () => {
  it('fires due timers in order and moves time as far as asked', async () => {
    const clock = new FakeClock(1000)
    const fired: string[] = []
    clock.setTimeout(() => fired.push(`b@${clock.now()}`), 20)
    clock.setTimeout(() => {
      fired.push(`a@${clock.now()}`)
      clock.setTimeout(() => fired.push(`c@${clock.now()}`), 5)
    }, 10)
    const cancelled = clock.setTimeout(() => fired.push('never'), 15)
    clock.clearTimeout(cancelled)

    await clock.advance(30)

    expect(fired).toEqual(['a@1010', 'c@1015', 'b@1020'])
    expect(clock.now()).toBe(1030)
    expect(clock.pendingTimers).toBe(0)
    expect(() => clock.tick(-1)).toThrow(RangeError)
  })
})
