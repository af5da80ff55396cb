import {
  BackgroundUpdateRunner,
  DuplicateJobError,
  DuplicateUpdateError,
  type JobDefinition,
  JobParameterError,
  MatrixBackgroundUpdatesError,
  MemoryStorageAdapter,
  MissingCapabilityError,
  UnknownJobError,
} from 'matrix-background-updates'
import { runUntilIdle } from 'matrix-background-updates/testing'
import { describe, expect, it } from 'vitest'
import { countingHandler, makeRunner, singleUpdateJob } from './setup.js'

const reindexJob: JobDefinition<{ table: string }> = {
  name: 'reindex',
  startable: true,
  validate(params) {
    const table = (params as { table?: unknown } | undefined)?.table
    if (typeof table !== 'string') {
      throw new JobParameterError('table', "Missing or invalid 'table'", 'M_INVALID_PARAM')
    }
    return { table }
  },
  updates: [
    {
      name: 'reindex_scan',
      handler: countingHandler(1),
      initialProgress: (p) => ({ table: p.table }),
    },
    { name: 'reindex_swap', handler: countingHandler(1), dependsOn: 'reindex_scan', oneshot: true },
  ],
}

describe('jobs and registration', () => {
  it('startJob() validates the parameters and queues the updates with their dependency chain', async () => {
    const { storage, runner } = makeRunner()
    runner.registerJob(reindexJob)

    const queued = await runner.startJob('reindex', { table: 'events' })

    expect(queued).toEqual(['reindex_scan', 'reindex_swap'])
    expect(await storage.listPendingUpdates()).toEqual([
      { update_name: 'reindex_scan', progress: { table: 'events' }, depends_on: null, ordering: 0 },
      { update_name: 'reindex_swap', progress: {}, depends_on: 'reindex_scan', ordering: 0 },
    ])
    expect(runner.job('reindex')?.startable).toBe(true)
    expect(runner.jobNames()).toEqual(['reindex'])
  })

  it('passes the validator JobParameterError on as it is and queues nothing', async () => {
    const { storage, runner } = makeRunner()
    runner.registerJob(reindexJob)

    const start = runner.startJob('reindex', { table: 7 })

    await expect(start).rejects.toBeInstanceOf(JobParameterError)
    await expect(start).rejects.toMatchObject({
      field: 'table',
      errcode: 'M_INVALID_PARAM',
      message: "Missing or invalid 'table'",
      code: 'ERR_JOB_PARAMETER',
    })
    expect(await storage.listPendingUpdates()).toEqual([])
  })

  it('refuses to start a job twice while its updates are queued', async () => {
    const { runner } = makeRunner()
    runner.registerJob(reindexJob)
    await runner.startJob('reindex', { table: 'events' })

    await expect(runner.startJob('reindex', { table: 'events' })).rejects.toBeInstanceOf(
      DuplicateUpdateError,
    )
  })

  it('refuses an unknown job by name', async () => {
    const { runner } = makeRunner()

    await expect(runner.startJob('nope')).rejects.toBeInstanceOf(UnknownJobError)
  })

  it('runs a one-shot update as a single batch', async () => {
    const { runner } = makeRunner()
    let calls = 0
    runner.registerJob(
      singleUpdateJob(
        'create_index',
        async () => {
          calls++
          return { items: 1, progress: { ignored: true } }
        },
        { oneshot: true },
      ),
    )
    await runner.startJob('create_index')

    const report = await runUntilIdle(runner)

    expect(calls).toBe(1)
    expect(report.completed).toEqual(['create_index'])
  })

  it('names the capabilities the storage lacks when a job is registered', () => {
    const runner = new BackgroundUpdateRunner({ storage: new MemoryStorageAdapter() })
    const job = singleUpdateJob('needs', countingHandler(1), {
      capabilities: ['events', 'room_state', 'events'],
    })

    expect(() => runner.registerJob(job)).toThrow(MissingCapabilityError)
    expect(() => runner.registerJob(job)).toThrow(/events, room_state/)
    expect(runner.jobNames()).toEqual([])
  })

  it('lets a handler read only the capabilities its update declares', async () => {
    const { storage, runner } = makeRunner()
    const errors: unknown[] = []
    runner.registerJob(
      singleUpdateJob('sneaky', async ({ storage: reader }) => {
        reader.reader('notes')
        return { items: 0, done: true }
      }),
    )
    runner.on('update:error', ({ error }) => errors.push(error))
    await storage.insertUpdates([{ update_name: 'sneaky' }])

    await runUntilIdle(runner)

    expect(errors[0]).toBeInstanceOf(MissingCapabilityError)
  })

  it('refuses a job or an update name registered twice', () => {
    const { runner } = makeRunner()
    runner.registerJob(reindexJob)

    expect(() => runner.registerJob(reindexJob)).toThrow(DuplicateJobError)
    expect(() =>
      runner.registerJob({
        name: 'other',
        updates: [{ name: 'reindex_scan', handler: countingHandler(1) }],
      }),
    ).toThrow(/update named reindex_scan/)
  })

  it('refuses malformed job definitions with a TypeError', () => {
    const { runner } = makeRunner()

    expect(() => runner.registerJob({ name: '', updates: [] })).toThrow(TypeError)
    expect(() => runner.registerJob({ name: 'j', updates: [] })).toThrow(TypeError)
    expect(() =>
      runner.registerJob({ name: 'j', updates: [{ name: 'u', handler: 'no' as never }] }),
    ).toThrow(TypeError)
    expect(() =>
      runner.registerJob({
        name: 'j',
        updates: [{ name: 'u', handler: countingHandler(1), ordering: 1.5 }],
      }),
    ).toThrow(RangeError)
  })
})

describe('runner options', () => {
  const storage = new MemoryStorageAdapter()

  it('refuses a missing or incomplete storage with a TypeError', () => {
    expect(() => new BackgroundUpdateRunner({} as never)).toThrow(TypeError)
    expect(
      () => new BackgroundUpdateRunner({ storage: { listPendingUpdates() {} } as never }),
    ).toThrow(/commitBatch|readProgress/)
  })

  it('refuses out-of-range numbers with a RangeError and wrong types with a TypeError', () => {
    expect(() => new BackgroundUpdateRunner({ storage, defaultBatchSize: 0 })).toThrow(RangeError)
    expect(() => new BackgroundUpdateRunner({ storage, minimumBatchSize: 1.5 })).toThrow(RangeError)
    expect(() => new BackgroundUpdateRunner({ storage, sleepDurationMs: -1 })).toThrow(RangeError)
    expect(() => new BackgroundUpdateRunner({ storage, pollIntervalMs: 6000 })).toThrow(RangeError)
    expect(() => new BackgroundUpdateRunner({ storage, batchTimeoutMs: 0 })).toThrow(RangeError)
    expect(() => new BackgroundUpdateRunner({ storage, targetDurationMs: '100' as never })).toThrow(
      TypeError,
    )
    expect(() => new BackgroundUpdateRunner({ storage, sleepEnabled: 1 as never })).toThrow(
      TypeError,
    )
    expect(() => new BackgroundUpdateRunner({ storage, logger: {} as never })).toThrow(TypeError)
  })

  it('uses the database name master by default', async () => {
    const runner = new BackgroundUpdateRunner({ storage })

    expect(runner.database).toBe('master')
    expect((await runner.status()).database).toBe('master')
  })

  it('refuses bad arguments to runFor, setEnabled, cancel and whenCompleted', async () => {
    const runner = new BackgroundUpdateRunner({ storage })

    await expect(runner.runFor(-1)).rejects.toBeInstanceOf(RangeError)
    await expect(runner.runFor('1' as never)).rejects.toBeInstanceOf(TypeError)
    await expect(runner.setEnabled('yes' as never)).rejects.toBeInstanceOf(TypeError)
    await expect(runner.cancel(1 as never)).rejects.toBeInstanceOf(TypeError)
    expect(() => runner.whenCompleted(1 as never)).toThrow(TypeError)
  })

  it('gives every error of its own a stable code', () => {
    const errors = [
      new JobParameterError('f', 'm'),
      new UnknownJobError('j'),
      new DuplicateJobError('job', 'j'),
      new MissingCapabilityError('Job j', ['events']),
      new DuplicateUpdateError(['u']),
    ]

    for (const error of errors) {
      expect(error).toBeInstanceOf(MatrixBackgroundUpdatesError)
      expect(error.code).toMatch(/^ERR_[A-Z_]+$/)
    }
    expect(new JobParameterError('f', 'm').errcode).toBe('M_INVALID_PARAM')
  })
})
