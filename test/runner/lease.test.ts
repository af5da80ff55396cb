import { BackgroundUpdateRunner, MemoryStorageAdapter } from 'matrix-background-updates'
import { FakeClock, runUntilIdle } from 'matrix-background-updates/testing'
import { describe, expect, it } from 'vitest'
import { notesCapability } from './notes-capability.js'
import { countingHandler, singleUpdateJob } from './setup.js'

function twoRunners(options: { leaseDurationMs?: number } = {}) {
  const clock = new FakeClock()
  const storage = new MemoryStorageAdapter({ clock, capabilities: [notesCapability] })
  const make = (owner: string) => {
    const runner = new BackgroundUpdateRunner({
      storage,
      clock,
      leaseOwner: owner,
      sleepEnabled: true,
      pollIntervalMs: 5000,
      leaseDurationMs: options.leaseDurationMs ?? 30_000,
    })
    const handler = countingHandler(1000)
    runner.registerJob(singleUpdateJob('shared', handler))
    return { runner, handler }
  }
  return { clock, storage, a: make('a'), b: make('b') }
}

describe('lease', () => {
  it('lets only the holder of two runners sharing a storage run batches', async () => {
    const { clock, storage, a, b } = twoRunners()
    await storage.insertUpdates([{ update_name: 'shared' }])

    a.runner.start()
    await clock.advance(0)
    b.runner.start()
    await clock.advance(10_500)

    expect(a.handler.calls).toBe(10)
    expect(b.handler.calls).toBe(0)
    await a.runner.stop()
    await b.runner.stop()
  })

  it('hands the work to the other runner when the holder stops', async () => {
    const { clock, storage, a, b } = twoRunners()
    await storage.insertUpdates([{ update_name: 'shared' }])
    a.runner.start()
    await clock.advance(0)
    b.runner.start()
    await clock.advance(3500)

    await a.runner.stop()
    await clock.advance(10_000)

    expect(a.handler.calls).toBe(3)
    expect(b.handler.calls).toBeGreaterThanOrEqual(4)
    expect(await storage.readProgress('shared')).toEqual({ batches: 3 + b.handler.calls })
    await b.runner.stop()
  })

  it('refuses a commit whose lease was lost, and does not count it as a failure', async () => {
    const { clock, storage, a } = twoRunners({ leaseDurationMs: 6000 })
    await storage.insertUpdates([{ update_name: 'shared', progress: { batches: 0 } }])
    const slow = new BackgroundUpdateRunner({
      storage,
      clock,
      leaseOwner: 'slow',
      sleepEnabled: false,
      leaseDurationMs: 6000,
    })
    slow.registerJob(
      singleUpdateJob('shared', async () => {
        clock.tick(7000)
        expect(await storage.lease.acquire('thief', 6000)).not.toBeNull()
        return { items: 1, progress: { batches: 99 } }
      }),
    )
    const errors: unknown[] = []
    slow.on('update:error', ({ error }) => errors.push(error))

    const report = await slow.runFor(Number.POSITIVE_INFINITY)

    expect(report).toMatchObject({ batches: [], failures: 0, endedBy: 'standby' })
    expect(errors).toEqual([])
    expect(await storage.readProgress('shared')).toEqual({ batches: 0 })
    expect(a.handler.calls).toBe(0)
  })

  it('keeps enabled in storage, so every process reads and sets it', async () => {
    const { clock, storage, a, b } = twoRunners()
    await storage.insertUpdates([{ update_name: 'shared' }])
    a.runner.start()
    await clock.advance(0)
    b.runner.start()
    await clock.advance(1500)

    await b.runner.setEnabled(false)
    await clock.advance(5000)

    expect(a.handler.calls).toBe(1)
    expect(a.runner.enabled).toBe(false)
    expect((await b.runner.status()).state).toBe('disabled')
    await b.runner.setEnabled(true)
    await clock.advance(5000)
    expect(a.handler.calls).toBeGreaterThan(1)
    expect(b.handler.calls).toBe(0)
    await a.runner.stop()
    await b.runner.stop()
  })

  it('answers status from the holder snapshot in a process that does not hold the lease', async () => {
    const { clock, storage, a, b } = twoRunners()
    await storage.insertUpdates([{ update_name: 'shared' }, { update_name: 'next' }])
    a.runner.start()
    await clock.advance(0)
    b.runner.start()
    await clock.advance(3500)

    const status = await b.runner.status()

    expect(status).toMatchObject({
      database: 'master',
      enabled: true,
      state: 'running',
      pending_updates: ['shared', 'next'],
      missing_handlers: ['next'],
      current_update: { name: 'shared', total_item_count: 3 },
    })
    await a.runner.stop()
    await b.runner.stop()
  })

  it('has an idle holder look for new rows at least every 5 seconds', async () => {
    const { clock, storage, a } = twoRunners()
    a.runner.start()
    await clock.advance(100)

    await storage.insertUpdates([{ update_name: 'shared' }])
    await clock.advance(4900 + 1000)

    expect(a.handler.calls).toBe(1)
    await a.runner.stop()
  })

  it('makes runUntilIdle refuse to run a runner that does not hold the lease', async () => {
    const { clock, storage, a, b } = twoRunners()
    await storage.insertUpdates([{ update_name: 'shared' }])
    a.runner.start()
    await clock.advance(0)

    await expect(runUntilIdle(b.runner)).rejects.toMatchObject({ code: 'ERR_NOT_LEASE_HOLDER' })
    await a.runner.stop()
  })
})
