import { RunnerStoppedError, UpdateHasDependentsError } from 'matrix-background-updates'
import { runUntilIdle } from 'matrix-background-updates/testing'
import { describe, expect, it } from 'vitest'
import { countingHandler, makeRunner, singleUpdateJob } from './setup.js'

/** A promise with its resolve function, to hold a handler mid-batch. */
function gate() {
  let open: () => void = () => {}
  const opened = new Promise<void>((resolve) => {
    open = resolve
  })
  return { open, opened }
}

describe('lifecycle', () => {
  it('sleeps 1000 ms before each batch and leaves the sleeps out of total_duration_ms', async () => {
    const { clock, storage, runner } = makeRunner({ sleepEnabled: true })
    const startedAt: number[] = []
    runner.registerJob(
      singleUpdateJob('paced', async ({ progress }) => {
        startedAt.push(clock.now())
        clock.tick(10)
        const batch = ((progress.batch as number | undefined) ?? 0) + 1
        return { items: 5, progress: { batch } }
      }),
    )
    await storage.insertUpdates([{ update_name: 'paced' }])

    runner.start()
    await clock.advance(3100)
    const status = await runner.status()
    await runner.stop()

    expect(startedAt).toEqual([1000, 2010, 3020])
    expect(status.state).toBe('running')
    expect(status.current_update).toMatchObject({
      name: 'paced',
      total_item_count: 15,
      total_duration_ms: 30,
    })
  })

  it('lets the batch in flight finish when disabled, runs no further batch, and resumes when enabled', async () => {
    const { clock, storage, runner } = makeRunner()
    const held = gate()
    let calls = 0
    runner.registerJob(
      singleUpdateJob('pausable', async ({ progress }) => {
        calls++
        if (calls === 1) await held.opened
        const batch = ((progress.batch as number | undefined) ?? 0) + 1
        return batch === 3 ? { items: 1, done: true } : { items: 1, progress: { batch } }
      }),
    )
    await storage.insertUpdates([{ update_name: 'pausable' }])
    const changes: boolean[] = []
    runner.on('runner:enabled-changed', ({ enabled }) => changes.push(enabled))

    runner.start()
    await clock.advance(0)
    await runner.setEnabled(false)
    held.open()
    await clock.advance(10_000)

    expect(calls).toBe(1)
    expect(await storage.readProgress('pausable')).toEqual({ batch: 1 })
    expect((await runner.status()).state).toBe('disabled')
    await runner.setEnabled(true)
    await runner.whenCompleted('pausable')
    await runner.stop()
    expect(calls).toBe(3)
    expect(changes).toEqual([false, true])
  })

  it('stop() waits for the batch in flight, which commits', async () => {
    const { clock, storage, runner } = makeRunner()
    const held = gate()
    runner.registerJob(
      singleUpdateJob('graceful', async () => {
        await held.opened
        return { items: 1, progress: { committed: true } }
      }),
    )
    await storage.insertUpdates([{ update_name: 'graceful' }])

    runner.start()
    await clock.advance(0)
    const stopped = runner.stop()
    held.open()
    await stopped

    expect(await storage.readProgress('graceful')).toEqual({ committed: true })
  })

  it('stop({ abort: true }) aborts the batch signal and rolls the batch back without a failure', async () => {
    const { clock, storage, runner } = makeRunner()
    let signal: AbortSignal | undefined
    runner.registerJob(
      singleUpdateJob('aborted', async (context) => {
        signal = context.signal
        await new Promise(() => {})
        return { items: 1, progress: { committed: true } }
      }),
    )
    await storage.insertUpdates([{ update_name: 'aborted', progress: { committed: false } }])
    const errors: unknown[] = []
    runner.on('update:error', ({ error }) => errors.push(error))

    runner.start()
    await clock.advance(0)
    await runner.stop({ abort: true })

    expect(signal?.aborted).toBe(true)
    expect(signal?.reason).toBeInstanceOf(RunnerStoppedError)
    expect(errors).toEqual([])
    expect(await storage.readProgress('aborted')).toEqual({ committed: false })
    expect((await runner.status()).last_error).toBeNull()
  })

  it('start() after stop() picks up where the runner left off', async () => {
    const { clock, storage, runner } = makeRunner({ sleepEnabled: true })
    const handler = countingHandler(4)
    runner.registerJob(singleUpdateJob('restartable', handler))
    await storage.insertUpdates([{ update_name: 'restartable' }])

    runner.start()
    await clock.advance(2500)
    const stopping = runner.stop()
    expect(() => runner.start()).toThrow(/already running/)
    await stopping
    await clock.advance(10_000)
    expect(handler.calls).toBe(2)
    runner.start()
    await clock.advance(2000)
    await runner.stop()

    expect(handler.calls).toBe(4)
    expect(await storage.listPendingUpdates()).toEqual([])
  })

  it('runFor(ms) runs batches until out of time, and a later call continues', async () => {
    const { clock, storage, runner } = makeRunner({ sleepEnabled: true })
    runner.registerJob(singleUpdateJob('cron', countingHandler(5)))
    await storage.insertUpdates([{ update_name: 'cron' }])

    const first = runner.runFor(2500)
    await clock.advance(2500)
    const firstReport = await first
    const second = runner.runFor(10_000)
    await clock.advance(10_000)
    const secondReport = await second

    expect(firstReport.batches).toHaveLength(2)
    expect(firstReport.endedBy).toBe('deadline')
    expect(secondReport.batches).toHaveLength(3)
    expect(secondReport).toMatchObject({ completed: ['cron'], endedBy: 'idle', state: 'idle' })
  })

  it('runFor(ms) returns at once when nothing is queued', async () => {
    const { runner } = makeRunner({ sleepEnabled: true })

    const report = await runner.runFor(60_000)

    expect(report).toMatchObject({ batches: [], endedBy: 'idle', state: 'idle' })
  })

  it('cancel() removes a queued update but refuses while another depends on it', async () => {
    const { storage, runner } = makeRunner()
    await storage.insertUpdates([
      { update_name: 'base' },
      { update_name: 'dependent', depends_on: 'base' },
    ])

    await expect(runner.cancel('base')).rejects.toBeInstanceOf(UpdateHasDependentsError)
    expect(await runner.cancel('dependent')).toBe(true)
    expect(await runner.cancel('base')).toBe(true)
    expect(await runner.cancel('base')).toBe(false)
    expect(await storage.listPendingUpdates()).toEqual([])
  })

  it('cancel() of the running update keeps its batch in flight from committing', async () => {
    const { clock, storage, runner } = makeRunner()
    const held = gate()
    runner.registerJob(
      singleUpdateJob(
        'cancelled',
        async () => {
          await held.opened
          return {
            items: 1,
            progress: { more: true },
            writes: [{ capability: 'notes', op: 'put', rows: [{ id: 'n', text: 'late' }] }],
          }
        },
        { capabilities: ['notes'] },
      ),
    )
    await storage.insertUpdates([{ update_name: 'cancelled' }])

    const run = runner.runFor(Number.POSITIVE_INFINITY)
    await clock.advance(0)
    await runner.cancel('cancelled')
    held.open()
    const report = await run

    expect(report.batches).toEqual([])
    expect(storage.reader('notes').list()).toEqual([])
    expect(await storage.listPendingUpdates()).toEqual([])
  })

  it('whenCompleted() resolves when the update, or every update, has left the queue', async () => {
    const { storage, runner } = makeRunner()
    runner.registerJob(singleUpdateJob('one', countingHandler(2)))
    runner.registerJob(singleUpdateJob('two', countingHandler(2)))
    await storage.insertUpdates([{ update_name: 'one' }, { update_name: 'two' }])
    const resolved: string[] = []
    void runner.whenCompleted('one').then(() => resolved.push('one'))
    void runner.whenCompleted().then(() => resolved.push('all'))
    await runner.whenCompleted('never_queued')

    expect(resolved).toEqual([])
    await runUntilIdle(runner)
    await Promise.resolve()

    expect(resolved).toEqual(['one', 'all'])
  })

  it('whenCompleted() rejects with the reason when its signal aborts', async () => {
    const { storage, runner } = makeRunner()
    await storage.insertUpdates([{ update_name: 'forever' }])
    const controller = new AbortController()

    const waiting = runner.whenCompleted('forever', { signal: controller.signal })
    controller.abort(new Error('gave up'))

    await expect(waiting).rejects.toThrow('gave up')
  })

  it('start() throws while runFor() is running, and start() twice is harmless', async () => {
    const { clock, storage, runner } = makeRunner({ sleepEnabled: true })
    runner.registerJob(singleUpdateJob('busy', countingHandler(3)))
    await storage.insertUpdates([{ update_name: 'busy' }])

    const run = runner.runFor(5000)
    expect(() => runner.start()).toThrow(/already running/)
    await clock.advance(5000)
    await run
    runner.start()
    runner.start()
    await expect(runner.runFor(10)).rejects.toMatchObject({ code: 'ERR_RUNNER_BUSY' })
    await runner.stop()
  })
})
