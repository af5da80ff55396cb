import { DependencyCycleError } from 'matrix-background-updates'
import { runUntilIdle } from 'matrix-background-updates/testing'
import { describe, expect, it } from 'vitest'
import { countingHandler, makeRunner, singleUpdateJob } from './setup.js'

function registerAll(runner: ReturnType<typeof makeRunner>['runner'], names: string[]) {
  for (const name of names) runner.registerJob(singleUpdateJob(name, countingHandler(1)))
}

describe('scheduling', () => {
  it('runs updates by ordering, then by name', async () => {
    const { storage, runner } = makeRunner()
    registerAll(runner, ['a', 'b', 'c', 'd'])
    await storage.insertUpdates([
      { update_name: 'd', ordering: 1 },
      { update_name: 'c', ordering: 0 },
      { update_name: 'b', ordering: 1 },
      { update_name: 'a', ordering: 2 },
    ])

    const report = await runUntilIdle(runner)

    expect(report.completed).toEqual(['c', 'b', 'd', 'a'])
  })

  it('waits while the update an update depends on is still queued', async () => {
    const { storage, runner } = makeRunner()
    registerAll(runner, ['first', 'second', 'third'])
    await storage.insertUpdates([
      { update_name: 'first', depends_on: 'third' },
      { update_name: 'second', depends_on: 'first' },
      { update_name: 'third' },
    ])

    expect((await runner.status()).pending_updates).toEqual(['third', 'first', 'second'])
    const report = await runUntilIdle(runner)

    expect(report.completed).toEqual(['third', 'first', 'second'])
  })

  it('treats a dependency that is no longer queued as done', async () => {
    const { storage, runner } = makeRunner()
    registerAll(runner, ['later'])
    await storage.insertUpdates([{ update_name: 'later', depends_on: 'finished_long_ago' }])

    const report = await runUntilIdle(runner)

    expect(report.completed).toEqual(['later'])
  })

  it('aborts with a dependency cycle error naming the rows when none can run', async () => {
    const { storage, runner } = makeRunner()
    registerAll(runner, ['x', 'y', 'z', 'free'])
    await storage.insertUpdates([
      { update_name: 'x', depends_on: 'y' },
      { update_name: 'y', depends_on: 'x' },
      { update_name: 'z', depends_on: 'x' },
      { update_name: 'free' },
    ])
    const aborted: unknown[] = []
    runner.on('runner:aborted', ({ error }) => aborted.push(error))

    const report = await runUntilIdle(runner)

    expect(report.completed).toEqual(['free'])
    expect(report.endedBy).toBe('aborted')
    expect(aborted[0]).toBeInstanceOf(DependencyCycleError)
    expect((aborted[0] as DependencyCycleError).updateNames).toEqual(['x', 'y'])
    const status = await runner.status()
    expect(status.state).toBe('aborted')
    expect(status.last_error).toMatchObject({
      code: 'ERR_DEPENDENCY_CYCLE',
      name: 'DependencyCycleError',
    })
    expect(status.last_error?.message).toContain('x, y')
  })

  it('reports a queued update without a handler by name once, skips it and keeps going', async () => {
    const { storage, runner } = makeRunner()
    registerAll(runner, ['known'])
    await storage.insertUpdates([
      { update_name: 'unknown' },
      { update_name: 'known' },
      { update_name: 'waits_for_unknown', depends_on: 'unknown' },
    ])
    const missing: string[] = []
    runner.on('update:missing-handler', ({ name }) => missing.push(name))

    const first = await runUntilIdle(runner)
    const second = await runUntilIdle(runner)

    expect(first.completed).toEqual(['known'])
    expect(first.endedBy).toBe('idle')
    expect(first.failures).toBe(0)
    expect(second.batches).toEqual([])
    expect(missing).toEqual(['unknown', 'waits_for_unknown'])
    const status = await runner.status()
    expect(status.state).toBe('idle')
    expect(status.missing_handlers).toEqual(['unknown', 'waits_for_unknown'])
    expect(status.pending_updates).toEqual(['unknown', 'waits_for_unknown'])
  })

  it('runs a skipped update once a job registers its handler', async () => {
    const { storage, runner } = makeRunner()
    await storage.insertUpdates([{ update_name: 'late' }])
    await runUntilIdle(runner)

    registerAll(runner, ['late'])
    const report = await runUntilIdle(runner)

    expect(report.completed).toEqual(['late'])
    expect((await runner.status()).missing_handlers).toEqual([])
  })

  it('keeps running the current update even when an earlier one is queued meanwhile', async () => {
    const { storage, runner } = makeRunner()
    runner.registerJob(
      singleUpdateJob('long', async ({ progress }) => {
        if (progress.step === undefined) {
          await storage.insertUpdates([{ update_name: 'early', ordering: -1 }])
          return { items: 1, progress: { step: 1 } }
        }
        return { items: 1, done: true }
      }),
    )
    registerAll(runner, ['early'])
    await storage.insertUpdates([{ update_name: 'long' }])

    const report = await runUntilIdle(runner)

    expect(report.completed).toEqual(['long', 'early'])
  })
})
