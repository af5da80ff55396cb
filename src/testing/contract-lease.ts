import type { LeaseStore, StorageAdapter } from 'matrix-background-updates'
import type { ContractTestFunctions, WithSubject } from './adapter-contract.js'

function leaseOf(storage: StorageAdapter): LeaseStore {
  if (!storage.lease) throw new Error('The adapter under test has no lease')

  return storage.lease
}

/** The lease, its fencing token and the shared runner state. */
export function contractLeaseTests(
  { describe, it, expect }: ContractTestFunctions,
  withSubject: WithSubject,
): void {
  describe('lease', () => {
    it('is held by one owner until it expires, then taken over with a greater fence', () =>
      withSubject(async ({ clock, subject: { storage } }) => {
        const lease = leaseOf(storage)
        const first = await lease.acquire('one', 1000)

        expect(await lease.acquire('two', 1000)).toBe(null)
        clock.tick(500)
        expect(await lease.renew(first as never, 1000)).toBe(true)
        clock.tick(900)
        expect(await lease.acquire('two', 1000)).toBe(null)
        clock.tick(200)
        const second = await lease.acquire('two', 1000)

        expect(second?.owner).toBe('two')
        expect((second?.fence ?? 0) > (first?.fence ?? 0)).toBe(true)
        expect(await lease.renew(first as never, 1000)).toBe(false)
      }))

    it('refuses a batch committed with a stale token and writes none of it', () =>
      withSubject(async ({ clock, subject: { storage } }) => {
        const lease = leaseOf(storage)
        await storage.insertUpdates([{ update_name: 'u', progress: { at: 0 } }])
        const stale = await lease.acquire('one', 1000)
        clock.tick(1001)
        const current = await lease.acquire('two', 1000)
        const batch = { updateName: 'u', writes: [], done: false }

        const refused = await storage.commitBatch({
          ...batch,
          progress: { at: 1 },
          leaseToken: stale,
        })
        const accepted = await storage.commitBatch({
          ...batch,
          progress: { at: 2 },
          leaseToken: current,
        })

        expect(refused).toEqual({ committed: false, reason: 'lease_lost' })
        expect(accepted.committed).toBe(true)
        expect(await storage.readProgress('u')).toEqual({ at: 2 })
      }))

    it('is free again once released, and a released token is no longer current', () =>
      withSubject(async ({ subject: { storage } }) => {
        const lease = leaseOf(storage)
        const first = await lease.acquire('one', 1000)
        await lease.release(first as never)
        const second = await lease.acquire('two', 1000)

        expect(second?.owner).toBe('two')
        expect(await lease.writeStatusSnapshot(first as never, { state: 'stale' })).toBe(false)
      }))

    it('shares enabled and the holder status snapshot', () =>
      withSubject(async ({ subject: { storage } }) => {
        const lease = leaseOf(storage)
        const token = await lease.acquire('one', 1000)

        expect(await lease.readSharedState()).toEqual({ enabled: true, status: null })
        await lease.writeEnabled(false)
        expect(await lease.writeStatusSnapshot(token as never, { state: 'idle' })).toBe(true)
        expect(await lease.readEnabled()).toBe(false)
        expect(await lease.readSharedState()).toEqual({ enabled: false, status: { state: 'idle' } })
      }))
  })
}
