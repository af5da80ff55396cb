import { BackgroundUpdateRunner, MemoryStorageAdapter } from 'matrix-background-updates'
import { FakeClock, runUntilIdle } from 'matrix-background-updates/testing'
import { describe, expect, it } from 'vitest'
import { makeRunner, singleUpdateJob } from './setup.js'

describe('the runner calls the admin API relies on', () => {
  it('resume() restarts a started runner whose loop ended by an abort', async () => {
    const { clock, storage, runner } = makeRunner()
    let calls = 0
    runner.registerJob(
      singleUpdateJob('flaky', async () => {
        calls++
        if (calls <= 5) throw new Error(`attempt ${calls} failed`)
        return { items: 1, done: true }
      }),
    )
    await storage.insertUpdates([{ update_name: 'flaky' }])
    runner.start()
    await clock.advance(0)
    expect((await runner.status()).state).toBe('aborted')

    runner.resume()
    await clock.advance(0)
    await runner.whenCompleted('flaky')
    await runner.stop()

    expect(calls).toBe(6)
    expect(await storage.readProgress('flaky')).toBeNull()
  })

  it('resume() leaves alone a runner that was never started or was stopped', async () => {
    const { clock, storage, runner } = makeRunner()
    let calls = 0
    runner.registerJob(
      singleUpdateJob('counted', async () => {
        calls++
        return { items: 1, done: true }
      }),
    )
    await storage.insertUpdates([{ update_name: 'counted' }])

    runner.resume()
    await clock.advance(0)
    expect(calls).toBe(0)

    runner.start()
    await runner.stop()
    runner.resume()
    await clock.advance(0)
    expect(await runUntilIdle(runner)).toMatchObject({ endedBy: 'idle' })
    expect(calls).toBe(1)
  })

  it('isEnabled() reads the flag another process set through a shared lease', async () => {
    const clock = new FakeClock()
    const storage = new MemoryStorageAdapter({ clock })
    const here = new BackgroundUpdateRunner({ storage, clock, leaseOwner: 'here' })
    const there = new BackgroundUpdateRunner({ storage, clock, leaseOwner: 'there' })

    await there.setEnabled(false)

    expect(here.enabled).toBe(true)
    expect(await here.isEnabled()).toBe(false)
    expect(here.enabled).toBe(false)
  })

  it('isEnabled() answers the local flag without a lease', async () => {
    const { runner } = makeRunner({ useLease: false })
    await runner.setEnabled(false)
    expect(await runner.isEnabled()).toBe(false)
  })
})
