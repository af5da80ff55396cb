import { BatchTimeoutError, InvalidBatchResultError } from 'matrix-background-updates'
import { runUntilIdle } from 'matrix-background-updates/testing'
import { describe, expect, it } from 'vitest'
import { makeRunner, singleUpdateJob } from './setup.js'

describe('failures', () => {
  it('aborts after five failures in a row and keeps the last error visible', async () => {
    const { storage, runner } = makeRunner()
    let calls = 0
    runner.registerJob(
      singleUpdateJob('broken', async () => {
        calls++
        throw new Error(`attempt ${calls} failed`)
      }),
    )
    await storage.insertUpdates([{ update_name: 'broken' }])
    const errors: number[] = []
    runner.on('update:error', ({ failures }) => errors.push(failures))

    const report = await runUntilIdle(runner)

    expect(calls).toBe(5)
    expect(errors).toEqual([1, 2, 3, 4, 5])
    expect(report).toMatchObject({ endedBy: 'aborted', state: 'aborted', failures: 5 })
    const status = await runner.status()
    expect(status.state).toBe('aborted')
    expect(status.last_error).toEqual({
      update_name: 'broken',
      name: 'Error',
      code: null,
      message: 'attempt 5 failed',
    })
    expect(await storage.readProgress('broken')).toEqual({})
  })

  it('resets the failure count after a successful batch', async () => {
    const { storage, runner } = makeRunner()
    let calls = 0
    runner.registerJob(
      singleUpdateJob('flaky', async ({ progress }) => {
        calls++
        if (calls % 5 !== 0) throw new Error('not this time')
        const round = ((progress.round as number | undefined) ?? 0) + 1
        return round === 3 ? { items: 1, done: true } : { items: 1, progress: { round } }
      }),
    )
    await storage.insertUpdates([{ update_name: 'flaky' }])
    const counts: number[] = []
    runner.on('update:error', ({ failures }) => counts.push(failures))

    const report = await runUntilIdle(runner)

    expect(report.endedBy).toBe('idle')
    expect(report.completed).toEqual(['flaky'])
    expect(report.failures).toBe(12)
    expect(counts).toEqual([1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4])
  })

  it('retries transient storage errors with a capped backoff without counting them', async () => {
    const { clock, storage, runner } = makeRunner({
      retryInitialDelayMs: 100,
      retryMaxDelayMs: 400,
    })
    let calls = 0
    const startedAt: number[] = []
    runner.registerJob(
      singleUpdateJob('busy', async () => {
        calls++
        startedAt.push(clock.now())
        if (calls <= 6)
          throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' })
        return { items: 1, done: true }
      }),
    )
    await storage.insertUpdates([{ update_name: 'busy' }])
    const transient: boolean[] = []
    runner.on('update:error', (event) => transient.push(event.transient))

    runner.start()
    await clock.advance(5000)
    await runner.stop()

    expect(calls).toBe(7)
    expect(transient).toEqual([true, true, true, true, true, true])
    expect(startedAt.slice(1).map((at, index) => at - (startedAt[index] as number))).toEqual([
      100, 200, 400, 400, 400, 400,
    ])
    expect(await storage.listPendingUpdates()).toEqual([])
    expect((await runner.status()).last_error).toBeNull()
  })

  it('aborts a batch past its timeout, rolls it back and counts it as a failure', async () => {
    const { clock, storage, runner } = makeRunner({ batchTimeoutMs: 2000 })
    const signals: AbortSignal[] = []
    runner.registerJob(
      singleUpdateJob(
        'stuck',
        async ({ signal }) => {
          signals.push(signal)
          if (signals.length > 1) return { items: 1, done: true }

          await new Promise((resolve) => clock.setTimeout(() => resolve(undefined), 3000))
          const late = { id: 'late', text: 'written after the timeout' }
          return {
            items: 1,
            progress: { reached: 'late' },
            writes: [{ capability: 'notes', op: 'put', rows: [late] }],
          }
        },
        { capabilities: ['notes'] },
      ),
    )
    await storage.insertUpdates([{ update_name: 'stuck', progress: { reached: 0 } }])
    const errors: unknown[] = []
    runner.on('update:error', ({ error }) => errors.push(error))

    const run = runner.runFor(10_000, { sleep: false })
    await clock.advance(1999)
    expect(errors).toHaveLength(0)
    expect(signals[0]?.aborted).toBe(false)
    await clock.advance(1)
    const report = await run
    await clock.advance(5000)

    expect(signals[0]?.aborted).toBe(true)
    expect(signals[0]?.reason).toBeInstanceOf(BatchTimeoutError)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toBeInstanceOf(BatchTimeoutError)
    expect(report).toMatchObject({ failures: 1, completed: ['stuck'], endedBy: 'idle' })
    expect(storage.reader('notes').list()).toEqual([])
    expect((await runner.status()).last_error?.code).toBe('ERR_BATCH_TIMEOUT')
  })

  it('counts a malformed handler result as a failure and commits nothing', async () => {
    const { storage, runner } = makeRunner()
    runner.registerJob(singleUpdateJob('forgetful', async () => ({ items: 3 }) as never))
    await storage.insertUpdates([{ update_name: 'forgetful', progress: { at: 1 } }])
    const errors: unknown[] = []
    runner.on('update:error', ({ error }) => errors.push(error))

    await runUntilIdle(runner)

    expect(errors).toHaveLength(5)
    expect(errors[0]).toBeInstanceOf(InvalidBatchResultError)
    expect(await storage.readProgress('forgetful')).toEqual({ at: 1 })
  })
})
