import { describe, expect, it } from 'vitest'
import { makeRunner, singleUpdateJob } from './setup.js'

describe('batch size tuning', () => {
  it('follows Synapse: default 100 first, then 10 after 100 items in 1000 ms, then 5', async () => {
    const { clock, storage, runner } = makeRunner()
    const sizes: number[] = []
    let batch = 0
    runner.registerJob(
      singleUpdateJob('tuned', async ({ batchSize }) => {
        sizes.push(batchSize)
        batch++
        clock.tick(1000)
        if (batch === 3) return { items: 1, done: true }

        return { items: batch === 1 ? 100 : 10, progress: { batch } }
      }),
    )
    await storage.insertUpdates([{ update_name: 'tuned' }])

    await runner.runFor(Number.POSITIVE_INFINITY)

    expect(sizes).toEqual([100, 10, 5])
  })

  it('weights the newest batch by 0.1 in both moving averages', async () => {
    const { clock, storage, runner } = makeRunner()
    const batches: Array<[items: number, ms: number]> = [
      [100, 10],
      [1000, 1000],
      [50, 500],
      [0, 0],
    ]
    const sizes: number[] = []
    runner.registerJob(
      singleUpdateJob('weighted', async ({ batchSize }) => {
        sizes.push(batchSize)
        const [items, ms] = batches[sizes.length - 1] as [number, number]
        clock.tick(ms)
        if (sizes.length === batches.length) return { items, done: true }

        return { items, progress: { seen: sizes.length } }
      }),
    )
    await storage.insertUpdates([{ update_name: 'weighted' }])

    await runner.runFor(Number.POSITIVE_INFINITY)

    expect(sizes).toEqual([100, 1000, 108, 73])
  })

  it('never goes below the minimum batch size', async () => {
    const { clock, storage, runner } = makeRunner({ minimumBatchSize: 7 })
    const sizes: number[] = []
    runner.registerJob(
      singleUpdateJob('slow', async ({ batchSize, progress }) => {
        sizes.push(batchSize)
        clock.tick(5000)
        const batch = (progress.batch as number | undefined) ?? 0
        return batch === 2 ? { items: 1, done: true } : { items: 1, progress: { batch: batch + 1 } }
      }),
    )
    await storage.insertUpdates([{ update_name: 'slow' }])

    await runner.runFor(Number.POSITIVE_INFINITY)

    expect(sizes).toEqual([100, 7, 7])
  })

  it('starts again from the default size in a new runner on the same storage', async () => {
    const first = makeRunner()
    const sizes: number[] = []
    const job = () =>
      singleUpdateJob('resumed', async ({ batchSize, progress }) => {
        sizes.push(batchSize)
        first.clock.tick(1000)
        const batch = ((progress.batch as number | undefined) ?? 0) + 1
        return batch === 4 ? { items: 10, done: true } : { items: 10, progress: { batch } }
      })
    first.runner.registerJob(job())
    await first.storage.insertUpdates([{ update_name: 'resumed' }])
    await first.runner.runFor(2500, { sleep: false })
    const second = makeRunner({ storage: first.storage, clock: first.clock })
    second.runner.registerJob(job())

    await second.runner.runFor(Number.POSITIVE_INFINITY)

    expect(sizes).toEqual([100, 1, 1, 100])
  })

  it('uses the controller hooks for the default and minimum sizes and the target duration', async () => {
    const calls: string[] = []
    const { clock, storage, runner } = makeRunner({
      controller: {
        async aroundBatch(info, run) {
          calls.push(`around ${info.updateName} ${info.database} ${info.oneshot}`)
          await run(1000)
        },
        defaultBatchSize: () => 3,
        minimumBatchSize: async () => 2,
      },
    })
    const sizes: number[] = []
    runner.registerJob(
      singleUpdateJob('controlled', async ({ batchSize, progress }) => {
        sizes.push(batchSize)
        clock.tick(100)
        return progress.again ? { items: 50, done: true } : { items: 50, progress: { again: true } }
      }),
    )
    await storage.insertUpdates([{ update_name: 'controlled' }])

    await runner.runFor(Number.POSITIVE_INFINITY)

    expect(calls).toEqual(['around controlled master false', 'around controlled master false'])
    expect(sizes).toEqual([3, 500])
  })
})
