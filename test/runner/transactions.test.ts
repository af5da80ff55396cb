import {
  BackgroundUpdateRunner,
  DuplicateUpdateError,
  MemoryStorageAdapter,
  MissingCapabilityError,
  type StorageWrite,
} from 'matrix-background-updates'
import { runUntilIdle } from 'matrix-background-updates/testing'
import { describe, expect, it } from 'vitest'
import { type NotesInstance, notesCapability } from './notes-capability.js'
import { makeRunner, singleUpdateJob } from './setup.js'

function put(rows: object[], condition?: 'unchanged'): StorageWrite {
  return { capability: 'notes', op: 'put', rows, ...(condition ? { condition } : {}) }
}

describe('batch transactions', () => {
  it('leaves neither writes nor progress behind when a write fails half way', async () => {
    const { storage, runner } = makeRunner()
    runner.registerJob(
      singleUpdateJob(
        'half',
        async () => ({
          items: 2,
          progress: { after: 'both' },
          writes: [
            put([{ id: 'first', text: 'ok' }]),
            put([{ id: 'second', text: 'x', explode: true }]),
          ],
        }),
        { capabilities: ['notes'] },
      ),
    )
    await storage.insertUpdates([{ update_name: 'half', progress: { after: 'nothing' } }])

    const report = await runUntilIdle(runner)

    expect(report.failures).toBe(5)
    expect(storage.reader('notes').list()).toEqual([])
    expect(await storage.readProgress('half')).toEqual({ after: 'nothing' })
  })

  it('leaves nothing behind when the handler throws', async () => {
    const { storage, runner } = makeRunner()
    runner.registerJob(
      singleUpdateJob('throws', async () => {
        throw new TypeError('bad data')
      }),
    )
    await storage.insertUpdates([{ update_name: 'throws', progress: { at: 7 } }])

    await runUntilIdle(runner)

    expect(await storage.readProgress('throws')).toEqual({ at: 7 })
  })

  it('commits the last batch writes and the removal of the update together', async () => {
    const { storage, runner } = makeRunner()
    let explode = true
    runner.registerJob(
      singleUpdateJob(
        'final',
        async () => ({
          items: 1,
          done: true,
          writes: [put([{ id: 'a', text: 'done' }]), put([{ id: 'b', text: 'done', explode }])],
        }),
        { capabilities: ['notes'] },
      ),
    )
    await storage.insertUpdates([{ update_name: 'final' }])

    const failed = await runUntilIdle(runner)
    expect(failed.completed).toEqual([])
    expect(await storage.listPendingUpdates()).toHaveLength(1)
    expect(storage.reader('notes').list()).toEqual([])
    explode = false
    const passed = await runUntilIdle(runner)

    expect(passed.completed).toEqual(['final'])
    expect(await storage.listPendingUpdates()).toEqual([])
    expect(
      storage
        .reader('notes')
        .list()
        .map((note) => note.id),
    ).toEqual(['a', 'b'])
  })

  it('reports rows skipped by a condition to the progress function, in the same transaction', async () => {
    const { clock, storage, runner } = makeRunner()
    storage.instance<NotesInstance>('notes').seed([
      { id: 'same', text: 'old', version: 1 },
      { id: 'changed', text: 'newer', version: 2 },
    ])
    runner.registerJob(
      singleUpdateJob(
        'conditional',
        async () => {
          clock.tick(1)
          return {
            items: 2,
            writes: [
              put(
                [
                  { id: 'same', text: 'rewritten', expectedVersion: 1 },
                  { id: 'changed', text: 'rewritten', expectedVersion: 1 },
                ],
                'unchanged',
              ),
            ],
            progress: (report) => ({
              skipped: report.writes[0]?.skipped.map((row) => (row as { id: string }).id) ?? [],
            }),
            outcomes: (report) => ({
              written: 2 - report.skippedCount,
              skipped: report.skippedCount,
            }),
          }
        },
        { capabilities: ['notes'] },
      ),
    )
    await storage.insertUpdates([{ update_name: 'conditional' }])

    const report = await runner.runFor(0.5, { sleep: false })

    const notes = storage.reader('notes')
    expect(notes.get('same')).toEqual({ id: 'same', text: 'rewritten', version: 2 })
    expect(notes.get('changed')).toEqual({ id: 'changed', text: 'newer', version: 2 })
    expect(report.batches).toHaveLength(1)
    expect(report.batches[0]).toMatchObject({ skipped: 1, outcomes: { written: 1, skipped: 1 } })
    expect(await storage.readProgress('conditional')).toEqual({ skipped: ['changed'] })
  })

  it('rolls the writes back when the progress function throws', async () => {
    const storage = new MemoryStorageAdapter({ capabilities: [notesCapability] })
    await storage.insertUpdates([{ update_name: 'u', progress: { n: 1 } }])

    const commit = storage.commitBatch({
      updateName: 'u',
      writes: [put([{ id: 'x', text: 'x' }])],
      progress: () => {
        throw new Error('cannot compute progress')
      },
      done: false,
      leaseToken: null,
    })

    await expect(commit).rejects.toThrow('cannot compute progress')
    const notAnObject = storage.commitBatch({
      updateName: 'u',
      writes: [put([{ id: 'y', text: 'y' }])],
      progress: () => [] as never,
      done: false,
      leaseToken: null,
    })
    await expect(notAnObject).rejects.toBeInstanceOf(TypeError)
    expect(storage.reader('notes').list()).toEqual([])
    expect(await storage.readProgress('u')).toEqual({ n: 1 })
  })

  it('refuses a write to a capability or operation the adapter lacks, writing nothing', async () => {
    const storage = new MemoryStorageAdapter({ capabilities: [notesCapability] })
    await storage.insertUpdates([{ update_name: 'u' }])

    const commit = storage.commitBatch({
      updateName: 'u',
      writes: [put([{ id: 'x', text: 'x' }]), { capability: 'notes', op: 'erase', rows: [] }],
      progress: { n: 2 },
      done: false,
      leaseToken: null,
    })

    await expect(commit).rejects.toBeInstanceOf(MissingCapabilityError)
    await expect(commit).rejects.toMatchObject({ missing: ['notes.erase'] })
    expect(storage.reader('notes').list()).toEqual([])
  })

  it('lets a new runner on the same storage continue from the committed progress', async () => {
    const { storage, runner } = makeRunner()
    const seen: unknown[] = []
    const job = () =>
      singleUpdateJob('resumable', async ({ progress }) => {
        seen.push(progress.next)
        const next = (progress.next as number) + 1
        if (next === 2) throw new Error('crash after one batch')
        return next === 4 ? { items: 1, done: true } : { items: 1, progress: { next } }
      })
    runner.registerJob(job())
    await storage.insertUpdates([{ update_name: 'resumable', progress: { next: 0 } }])
    await runUntilIdle(runner)
    const restarted = new BackgroundUpdateRunner({ storage, sleepEnabled: false })
    let calls = 0
    restarted.registerJob(
      singleUpdateJob('resumable', async ({ progress }) => {
        calls++
        seen.push(progress.next)
        return { items: 1, done: true }
      }),
    )

    await runUntilIdle(restarted)

    expect(seen).toEqual([0, 1, 1, 1, 1, 1, 1])
    expect(calls).toBe(1)
  })

  it('inserts none of several rows when one name is already queued', async () => {
    const storage = new MemoryStorageAdapter()
    await storage.insertUpdates([{ update_name: 'taken' }])

    const insert = storage.insertUpdates([{ update_name: 'new' }, { update_name: 'taken' }])

    await expect(insert).rejects.toBeInstanceOf(DuplicateUpdateError)
    await expect(insert).rejects.toMatchObject({ updateNames: ['taken'] })
    expect((await storage.listPendingUpdates()).map((row) => row.update_name)).toEqual(['taken'])
  })

  it('hands out copies of progress, so callers cannot change what is stored', async () => {
    const storage = new MemoryStorageAdapter()
    const progress = { list: [1] }
    await storage.insertUpdates([{ update_name: 'u', progress }])

    progress.list.push(2)
    const read = (await storage.readProgress('u')) as { list: number[] }
    read.list.push(3)

    expect(await storage.readProgress('u')).toEqual({ list: [1] })
  })
})
