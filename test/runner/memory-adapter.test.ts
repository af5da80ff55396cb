import {
  DuplicateCapabilityError,
  isCommonTransientError,
  MemoryJournal,
  MemoryStorageAdapter,
  MemoryTable,
  MissingCapabilityError,
} from 'matrix-background-updates'
import { FakeClock } from 'matrix-background-updates/testing'
import { describe, expect, it } from 'vitest'
import { notesCapability } from './notes-capability.js'

describe('the memory lease', () => {
  it('gives the lease to one owner at a time, with a growing fencing number', async () => {
    const clock = new FakeClock()
    const { lease } = new MemoryStorageAdapter({ clock })

    const first = await lease.acquire('a', 1000)
    const refused = await lease.acquire('b', 1000)
    clock.tick(1000)
    const taken = await lease.acquire('b', 1000)

    expect(first).toEqual({ owner: 'a', fence: 1 })
    expect(refused).toBeNull()
    expect(taken).toEqual({ owner: 'b', fence: 2 })
    expect(await lease.renew(first as never, 1000)).toBe(false)
    expect(lease.isCurrent(taken as never)).toBe(true)
  })

  it('refuses a batch commit with a stale token and writes nothing', async () => {
    const clock = new FakeClock()
    const storage = new MemoryStorageAdapter({ clock, capabilities: [notesCapability] })
    await storage.insertUpdates([{ update_name: 'u', progress: { n: 0 } }])
    const stale = await storage.lease.acquire('a', 1000)
    await storage.lease.release(stale as never)
    await storage.lease.acquire('b', 1000)

    const result = await storage.commitBatch({
      updateName: 'u',
      writes: [{ capability: 'notes', op: 'put', rows: [{ id: 'x', text: 'x' }] }],
      progress: { n: 1 },
      done: true,
      leaseToken: stale,
    })

    expect(result).toEqual({ committed: false, reason: 'lease_lost' })
    expect(await storage.readProgress('u')).toEqual({ n: 0 })
    expect(storage.reader('notes').list()).toEqual([])
  })

  it('keeps enabled and the status snapshot for every runner, the snapshot only from the holder', async () => {
    const storage = new MemoryStorageAdapter()
    const token = await storage.lease.acquire('a', 1000)

    await storage.lease.writeEnabled(false)
    const stored = await storage.lease.writeStatusSnapshot(token as never, { state: 'idle' })
    const refused = await storage.lease.writeStatusSnapshot(
      { owner: 'b', fence: 9 },
      { state: 'x' },
    )

    expect(stored).toBe(true)
    expect(refused).toBe(false)
    expect(await storage.lease.readSharedState()).toEqual({
      enabled: false,
      status: { state: 'idle' },
    })
  })
})

describe('the memory adapter', () => {
  it('refuses two capability modules of one name and unknown capabilities by name', () => {
    const storage = new MemoryStorageAdapter({ capabilities: [notesCapability] })

    expect(() => storage.install(notesCapability)).toThrow(DuplicateCapabilityError)
    expect(() => storage.reader('events')).toThrow(MissingCapabilityError)
    expect(storage.capabilities).toEqual(['notes'])
  })

  it('refuses malformed queue rows with a TypeError or a RangeError', async () => {
    const storage = new MemoryStorageAdapter()

    await expect(storage.insertUpdates([{ update_name: '' }])).rejects.toBeInstanceOf(TypeError)
    await expect(
      storage.insertUpdates([{ update_name: 'u', ordering: 0.5 }]),
    ).rejects.toBeInstanceOf(RangeError)
    await expect(
      storage.insertUpdates([{ update_name: 'u', progress: [] as never }]),
    ).rejects.toBeInstanceOf(TypeError)
    expect(await storage.listPendingUpdates()).toEqual([])
  })

  it('undoes every change of a journaled transaction that throws', () => {
    const journal = new MemoryJournal()
    const table = new MemoryTable<string, number>(journal)
    table.set('kept', 1)

    expect(() =>
      journal.transaction(() => {
        table.set('kept', 2)
        table.set('added', 3)
        table.delete('kept')
        throw new Error('boom')
      }),
    ).toThrow('boom')

    expect([...table.entries()]).toEqual([['kept', 1]])
    expect(() => journal.transaction(() => journal.transaction(() => 1))).toThrow(/nested/)
  })
})

describe('transient error classification', () => {
  it('recognises connection resets, busy SQLite and PostgreSQL serialization failures', () => {
    expect(isCommonTransientError(Object.assign(new Error(), { code: 'ECONNRESET' }))).toBe(true)
    expect(isCommonTransientError(Object.assign(new Error(), { code: 'SQLITE_BUSY' }))).toBe(true)
    expect(isCommonTransientError(new Error('wrapped', { cause: { code: '40001' } }))).toBe(true)
    expect(isCommonTransientError(Object.assign(new Error(), { code: '23505' }))).toBe(false)
    expect(isCommonTransientError(new Error('plain'))).toBe(false)
    expect(isCommonTransientError(undefined)).toBe(false)
  })
})
