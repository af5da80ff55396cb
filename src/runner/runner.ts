import type { LeaseStore } from '../adapters/lease.js'
import type { CommitResult, QueuedUpdate, StorageAdapter } from '../adapters/storage.js'
import type { JsonObject } from '../matrix/canonical-json.js'
import { callSafely, untilAborted } from './abort.js'
import { type CheckedBatchResult, checkBatchResult, checkOutcomeCounts } from './batch-result.js'
import { type BatchPerformance, tunedBatchSize } from './batch-tuning.js'
import { type Clock, sleep } from './clock.js'
import { CompletionWaiters } from './completion-waiters.js'
import { TypedEmitter } from './emitter.js'
import {
  BatchTimeoutError,
  DependencyCycleError,
  RunnerBusyError,
  RunnerStoppedError,
  UnknownJobError,
} from './errors.js'
import type { RunnerEvents, UpdateBatchEvent } from './events.js'
import type { JobDefinition, Outcomes } from './job.js'
import { JobRegistry, type RegisteredUpdate } from './job-registry.js'
import { LeaseKeeper } from './lease-keeper.js'
import type { Logger } from './logger.js'
import {
  type RunnerController,
  type RunnerOptions,
  type RunnerSettings,
  resolveRunnerOptions,
} from './options.js'
import { planQueue, type QueuePlan } from './scheduling.js'
import {
  describeError,
  type RunnerErrorInfo,
  type RunnerState,
  type RunnerStatus,
  type UpdateStatus,
} from './status.js'
import { UpdateMetrics } from './update-metrics.js'

/** Options of {@link BackgroundUpdateRunner.runFor}. */
export interface RunForOptions {
  /** Whether to sleep before each batch. Default: the runner's `sleepEnabled`. */
  readonly sleep?: boolean
}

/** What a call of {@link BackgroundUpdateRunner.runFor} did. */
export interface RunReport {
  /** The batches that committed, in order. */
  readonly batches: UpdateBatchEvent[]

  /** The updates that finished. */
  readonly completed: string[]

  /** Batches that failed (transient errors excluded). */
  failures: number

  /**
   * Why it ended: nothing runnable (`idle`), out of time (`deadline`), `stopped`, `aborted`,
   * `disabled`, or another process holds the lease (`standby`).
   */
  endedBy: 'idle' | 'deadline' | 'stopped' | 'aborted' | 'disabled' | 'standby'

  /** The runner's state at the end. */
  state: RunnerState
}

/** Failures in a row that abort the runner, as in Synapse. */
const failuresBeforeAbort = 5

type StepOutcome =
  | 'batch'
  | 'failed'
  | 'retried'
  | 'idle'
  | 'disabled'
  | 'standby'
  | 'aborted'
  | 'stopped'
  | 'out_of_time'

interface RunLimits {
  readonly sleep: boolean
  readonly deadline: number
}

const waitingOutcomes = new Set<StepOutcome>(['idle', 'disabled', 'standby'])
const emptyPlan: QueuePlan = { next: null, order: [], missingHandlers: [], cycle: [] }

/**
 * Runs background updates for one database, as Synapse's background updater does: one update at a
 * time by `ordering` then name, in batches sized to a target duration, paced by a sleep, aborting
 * after five failures in a row. Each batch's writes, progress and completion commit together.
 */
export class BackgroundUpdateRunner {
  /** The database name reported in status and events. */
  readonly database: string

  readonly #settings: RunnerSettings
  readonly #storage: StorageAdapter
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #lease: LeaseKeeper
  readonly #emitter: TypedEmitter<RunnerEvents>
  readonly #registry: JobRegistry
  readonly #metrics = new UpdateMetrics()
  readonly #reportedMissing = new Set<string>()
  readonly #waiters = new CompletionWaiters()
  #enabled = true
  #aborted = false
  #busy: 'running' | 'idle' | null = null
  #lastError: RunnerErrorInfo | null = null
  #failures = 0
  #transientAttempts = 0
  #current: string | null = null
  #plan: QueuePlan = emptyPlan
  #active: Promise<unknown> | null = null
  #looping = false
  #started = false
  #stop = new AbortController()
  #stopAborts = false
  #batchAbort: AbortController | null = null
  #wake: (() => void) | null = null
  #woken = false
  #report: RunReport | null = null
  #yieldedAt = 0

  /**
   * Creates a runner. It does nothing until `start()` or `runFor()`.
   *
   * @throws {TypeError} An option has the wrong type, or `storage` is not a StorageAdapter.
   * @throws {RangeError} A number option is out of range.
   */
  constructor(options: RunnerOptions) {
    this.#settings = resolveRunnerOptions(options)
    this.database = this.#settings.database
    this.#storage = this.#settings.storage
    this.#clock = this.#settings.clock
    this.#logger = this.#settings.logger
    this.#registry = new JobRegistry(this.#storage)
    this.#lease = new LeaseKeeper(this.#leaseStore(), {
      owner: this.#settings.leaseOwner,
      durationMs: this.#settings.leaseDurationMs,
      clock: this.#clock,
      logger: this.#logger,
    })
    this.#emitter = new TypedEmitter((error, event) =>
      this.#logger.error({ err: error, event }, 'A background update event listener threw'),
    )
  }

  /** Whether background updates are enabled, as this process last saw it. */
  get enabled(): boolean {
    return this.#enabled
  }

  /**
   * Whether background updates are enabled. With a lease it reads the flag from storage, so a change
   * made through another process is seen at once; without one it is this process's flag.
   */
  isEnabled(): Promise<boolean> {
    return this.#refreshEnabled()
  }

  /**
   * Starts the loop again when it was started with `start()`, not stopped since, and has ended by an
   * abort, as Synapse restarts its updater when updates are enabled or a job is started. Does nothing
   * otherwise, so a runner driven by `runFor()` is left alone.
   */
  resume(): void {
    if (this.#started && this.#active === null && this.#enabled) this.start()
  }

  /**
   * Listens to an event. A listener that throws is logged and never disturbs the runner.
   *
   * @throws {TypeError} `listener` is not a function.
   */
  on<E extends keyof RunnerEvents>(event: E, listener: RunnerEvents[E]): this {
    this.#emitter.on(event, listener)
    return this
  }

  /**
   * Listens to the next occurrence of an event.
   *
   * @throws {TypeError} `listener` is not a function.
   */
  once<E extends keyof RunnerEvents>(event: E, listener: RunnerEvents[E]): this {
    this.#emitter.once(event, listener)
    return this
  }

  /** Stops listening. */
  off<E extends keyof RunnerEvents>(event: E, listener: RunnerEvents[E]): this {
    this.#emitter.off(event, listener)
    return this
  }

  /**
   * Registers a job and the handlers of its updates. The only registry: a queued update runs only if
   * a registered job defines it.
   *
   * @throws {TypeError} The definition is malformed.
   * @throws {DuplicateJobError} The job or one of its updates is registered already.
   * @throws {MissingCapabilityError} The storage lacks a capability an update declares.
   */
  registerJob<Params>(definition: JobDefinition<Params>): void {
    const updateNames = this.#registry.register(definition as unknown as JobDefinition<unknown>)
    for (const name of updateNames) this.#reportedMissing.delete(name)

    this.#wakeUp()
  }

  /** The registered job of that name (the admin API checks its `startable`), or undefined. */
  job(name: string): JobDefinition<unknown> | undefined {
    return this.#registry.job(name)
  }

  /** The names of the registered jobs. */
  jobNames(): string[] {
    return this.#registry.jobNames()
  }

  /**
   * Validates a job's parameters and queues its updates (all or none), then wakes the runner.
   * Resolves to the queued update names. `startable` is not checked here: that is the admin API's.
   *
   * @throws {UnknownJobError} No such job is registered.
   * @throws {JobParameterError} The job's validator refused the parameters.
   * @throws {DuplicateUpdateError} One of its updates is queued already.
   */
  async startJob(jobName: string, params?: unknown): Promise<string[]> {
    const job = this.#registry.job(jobName)
    if (!job) throw new UnknownJobError(String(jobName))

    const validated = job.validate ? await job.validate(params) : params
    const rows = job.updates.map((update) => ({
      update_name: update.name,
      progress: update.initialProgress?.(validated) ?? {},
      depends_on: update.dependsOn ?? null,
      ordering: update.ordering ?? 0,
    }))
    await this.#storage.insertUpdates(rows)

    this.#logger.info({ job: jobName, updates: rows.length }, 'Queued a background update job')
    this.#wakeUp()
    return rows.map((row) => row.update_name)
  }

  /**
   * Removes a queued update. A batch of it in flight does not commit. Resolves whether it was queued.
   *
   * @throws {TypeError} `updateName` is not a string.
   * @throws {UpdateHasDependentsError} Another queued update depends on it.
   */
  async cancel(updateName: string): Promise<boolean> {
    if (typeof updateName !== 'string') throw new TypeError('updateName must be a string')

    const removed = await this.#storage.deleteUpdate(updateName)
    if (this.#current === updateName) this.#current = null

    this.#wakeUp()
    return removed
  }

  /**
   * Enables or disables background updates, for every process when the storage has a lease.
   * Disabling lets the batch in flight finish and runs no further batch; enabling resumes.
   *
   * @throws {TypeError} `enabled` is not a boolean.
   */
  async setEnabled(enabled: boolean): Promise<void> {
    if (typeof enabled !== 'boolean') throw new TypeError('enabled must be a boolean')

    await this.#lease.store?.writeEnabled(enabled)
    this.#applyEnabled(enabled)
  }

  /**
   * Starts running batches in the background until `stop()`. Does nothing if already started.
   * After an abort, starting again clears the failure count.
   *
   * @throws {RunnerBusyError} `runFor()` is in progress, or a `stop()` has not resolved yet.
   */
  start(): void {
    if (this.#looping && !this.#stop.signal.aborted) return
    if (this.#active) throw new RunnerBusyError()

    this.#prepareRun()
    this.#started = true
    this.#looping = true
    this.#active = this.#runLoop()
      .catch((error) => this.#logger.error({ err: error }, 'The background update loop failed'))
      .finally(() => {
        this.#active = null
        this.#looping = false
      })
  }

  /**
   * Stops running batches and releases the lease. The batch in flight finishes and commits; with
   * `abort: true` its signal aborts instead and it rolls back.
   */
  async stop(options: { readonly abort?: boolean } = {}): Promise<void> {
    const active = this.#active
    this.#started = false
    this.#stopAborts = options.abort === true
    this.#stop.abort()
    if (this.#stopAborts) this.#batchAbort?.abort(new RunnerStoppedError())

    this.#wakeUp()
    await active
    await this.#lease.release()
  }

  /**
   * Runs batches until nothing is runnable or `durationMs` has passed, then releases the lease and
   * resolves; for hosts without long-lived processes (a cron-triggered Worker). A batch never starts
   * if its sleep would pass the deadline, but one in flight at the deadline is finished.
   *
   * @param durationMs Milliseconds of the runner's clock; `Infinity` runs until idle.
   * @throws {TypeError} `durationMs` is not a number.
   * @throws {RangeError} `durationMs` is negative or NaN.
   * @throws {RunnerBusyError} The runner is started or another `runFor()` is in progress.
   */
  async runFor(durationMs: number, options: RunForOptions = {}): Promise<RunReport> {
    if (typeof durationMs !== 'number') throw new TypeError('durationMs must be a number')
    if (!(durationMs >= 0)) throw new RangeError(`durationMs must be >= 0, got ${durationMs}`)
    if (this.#active) throw new RunnerBusyError()

    const report: RunReport = {
      batches: [],
      completed: [],
      failures: 0,
      endedBy: 'deadline',
      state: 'idle',
    }
    const limits = {
      sleep: options.sleep ?? this.#settings.sleepEnabled,
      deadline: this.#clock.now() + durationMs,
    }
    this.#prepareRun()
    this.#report = report
    const work = this.#runUntil(limits)
    this.#active = work
    try {
      report.endedBy = await work
    } finally {
      this.#active = null
      this.#report = null
      await this.#lease.release()
    }

    report.state = this.#state()
    return report
  }

  /**
   * The status: Synapse's fields for the current update, plus the runner's state. With a lease, a
   * process that does not hold it answers from the holder's snapshot in storage.
   */
  async status(): Promise<RunnerStatus> {
    const store = this.#lease.store
    if (store && !this.#lease.token) return this.#sharedStatus(store)

    const pending = await this.#storage.listPendingUpdates()
    return this.#localStatus(planQueue(pending, (name) => this.#registry.hasUpdate(name)))
  }

  /**
   * Resolves once an update (or, without a name, every update) has left the queue, as this runner
   * observes it; for hosts that gate a feature on an update.
   *
   * @throws {TypeError} `updateName` is given and not a string.
   */
  whenCompleted(updateName?: string, options: { readonly signal?: AbortSignal } = {}) {
    if (updateName !== undefined && typeof updateName !== 'string') {
      throw new TypeError('updateName must be a string')
    }

    const completed = this.#waiters.wait(updateName ?? null, options.signal)
    this.#storage.listPendingUpdates().then(
      (pending) => this.#settleWaiters(pending),
      (error) => this.#logger.warn({ err: error }, 'Could not read the background update queue'),
    )
    return completed
  }

  #leaseStore(): LeaseStore | null {
    return this.#settings.useLease ? (this.#storage.lease ?? null) : null
  }

  #prepareRun(): void {
    if (this.#aborted) {
      this.#aborted = false
      this.#failures = 0
    }
    this.#stop = new AbortController()
    this.#stopAborts = false
  }

  async #runLoop(): Promise<void> {
    const limits = { sleep: this.#settings.sleepEnabled, deadline: Number.POSITIVE_INFINITY }
    while (!this.#stop.signal.aborted) {
      await this.#yieldNow()
      const outcome = await this.#step(limits)
      if (outcome === 'aborted' || outcome === 'stopped') return
      if (waitingOutcomes.has(outcome)) await this.#waitForWork()
    }
  }

  async #runUntil(limits: RunLimits): Promise<RunReport['endedBy']> {
    while (this.#clock.now() < limits.deadline) {
      if (this.#stop.signal.aborted) return 'stopped'

      await this.#yieldNow()
      const outcome = await this.#step(limits)
      if (outcome === 'out_of_time') return 'deadline'
      if (waitingOutcomes.has(outcome) || outcome === 'aborted' || outcome === 'stopped') {
        return outcome as RunReport['endedBy']
      }
    }

    return 'deadline'
  }

  /**
   * Lets timers and I/O of the host run at least every 20 ms of real time, since batches on
   * synchronous storage without sleeps would otherwise hold the event loop.
   */
  async #yieldNow(): Promise<void> {
    const now = globalThis.performance.now()
    if (now - this.#yieldedAt < 20) return

    await new Promise((resolve) => globalThis.setTimeout(resolve, 0))
    this.#yieldedAt = globalThis.performance.now()
  }

  /** One turn: hold the lease, check `enabled`, pick an update, run one paced batch. */
  async #step(limits: RunLimits): Promise<StepOutcome> {
    this.#woken = false
    let updateName: string | null = null
    try {
      const lease = await this.#lease.hold()
      if (lease.acquired) this.#current = null
      if (!lease.held) return await this.#standBy()
      if (!(await this.#refreshEnabled())) return 'disabled'

      updateName = await this.#chooseUpdate()
      if (updateName === null) return this.#becomeIdle()

      return await this.#pacedBatch(updateName, limits)
    } catch (error) {
      return this.#onStepError(error, updateName, limits)
    }
  }

  async #standBy(): Promise<StepOutcome> {
    this.#applyEnabled(await (this.#lease.store as LeaseStore).readEnabled())
    if (this.#waiters.size > 0) this.#settleWaiters(await this.#storage.listPendingUpdates())

    return 'standby'
  }

  #becomeIdle(): StepOutcome {
    if (this.#busy !== 'idle') {
      this.#busy = 'idle'
      this.#emitter.emit('runner:idle', { database: this.database })
      this.#logger.info({ database: this.database }, 'No runnable background updates')
      void this.#storeSnapshot()
    }

    return 'idle'
  }

  async #refreshEnabled(): Promise<boolean> {
    const store = this.#lease.store
    if (store) this.#applyEnabled(await store.readEnabled())

    return this.#enabled
  }

  #applyEnabled(enabled: boolean): void {
    if (this.#enabled === enabled) return

    this.#enabled = enabled
    this.#logger.info({ database: this.database, enabled }, 'Background updates enabled changed')
    this.#emitter.emit('runner:enabled-changed', { database: this.database, enabled })
    void this.#storeSnapshot()
    this.#wakeUp()
  }

  /** The current update, or the first runnable one; null when none. */
  async #chooseUpdate(): Promise<string | null> {
    if (this.#current !== null) return this.#current

    const pending = await this.#storage.listPendingUpdates()
    const plan = planQueue(pending, (name) => this.#registry.hasUpdate(name))
    this.#plan = plan
    this.#settleWaiters(pending)
    this.#reportMissingHandlers(plan.missingHandlers)
    if (plan.cycle.length > 0) throw new DependencyCycleError(plan.cycle)
    if (plan.next === null) return null

    this.#current = plan.next
    this.#busy = 'running'
    this.#logger.info({ update: plan.next }, 'Starting background update')
    this.#emitter.emit('update:start', { database: this.database, name: plan.next })
    return plan.next
  }

  #reportMissingHandlers(names: readonly string[]): void {
    for (const name of names) {
      if (this.#reportedMissing.has(name)) continue

      this.#reportedMissing.add(name)
      this.#logger.warn({ update: name }, 'Queued background update has no handler; skipping it')
      this.#emitter.emit('update:missing-handler', { database: this.database, name })
    }
  }

  async #pacedBatch(updateName: string, limits: RunLimits): Promise<StepOutcome> {
    const controller = this.#settings.controller
    if (controller?.aroundBatch) return this.#controlledBatch(updateName, controller)

    if (limits.sleep) {
      const { sleepDurationMs } = this.#settings
      if (this.#clock.now() + sleepDurationMs > limits.deadline) return 'out_of_time'

      await sleep(this.#clock, sleepDurationMs, this.#stop.signal)
      if (this.#stop.signal.aborted) return 'stopped'
      if (!(await this.#refreshEnabled())) return 'disabled'
    }

    return this.#runBatch(updateName, this.#settings.targetDurationMs)
  }

  /** A batch wrapped in the controller's hook, which decides the pause and the target duration. */
  async #controlledBatch(updateName: string, controller: RunnerController): Promise<StepOutcome> {
    const definition = this.#registered(updateName).definition
    const info = { updateName, database: this.database, oneshot: definition.oneshot === true }
    let ran = false
    let outcome: StepOutcome = 'batch'
    await controller.aroundBatch?.(info, async (targetDurationMs) => {
      if (ran) throw new TypeError('run() may be called once per batch')
      if (typeof targetDurationMs !== 'number' || !(targetDurationMs >= 0)) {
        throw new RangeError(`The target duration must be a number >= 0, got ${targetDurationMs}`)
      }

      ran = true
      outcome = await this.#runBatch(updateName, targetDurationMs)
    })

    return outcome
  }

  #registered(updateName: string): RegisteredUpdate {
    return this.#registry.update(updateName) as RegisteredUpdate
  }

  /** Tunes the size, runs the handler, commits, and records the batch. */
  async #runBatch(updateName: string, targetDurationMs: number): Promise<StepOutcome> {
    const batchSize = await this.#batchSize(updateName, targetDurationMs)
    const progress = await this.#storage.readProgress(updateName)
    if (progress === null) return this.#notCommitted(updateName, 'update_missing')

    const started = this.#clock.now()
    const stopRenewing = this.#lease.keepDuringBatch()
    try {
      const result = await this.#callHandler(updateName, progress, batchSize)
      const commit = await this.#commit(updateName, result)
      if (!commit.committed) return this.#notCommitted(updateName, commit.reason)

      const durationMs = this.#clock.now() - started
      await this.#recordBatch(updateName, result, commit.report, batchSize, durationMs)
      return 'batch'
    } finally {
      stopRenewing()
    }
  }

  async #batchSize(updateName: string, targetDurationMs: number): Promise<number> {
    const performance = this.#metrics.performanceOf(updateName)
    const controller = this.#settings.controller
    if (performance.averageItemsPerMs() === null) {
      const size = controller?.defaultBatchSize
        ? await controller.defaultBatchSize(updateName, this.database)
        : this.#settings.defaultBatchSize
      return checkBatchSize('defaultBatchSize', size)
    }

    const minimum = controller?.minimumBatchSize
      ? await controller.minimumBatchSize(updateName, this.database)
      : this.#settings.minimumBatchSize
    const size = tunedBatchSize(
      performance,
      targetDurationMs,
      checkBatchSize('minimumBatchSize', minimum),
    )
    return size ?? this.#settings.defaultBatchSize
  }

  /** Runs the handler under the batch timeout and the stop signal. */
  async #callHandler(
    updateName: string,
    progress: JsonObject,
    batchSize: number,
  ): Promise<CheckedBatchResult> {
    const { definition, reader } = this.#registered(updateName)
    const abort = new AbortController()
    const { batchTimeoutMs } = this.#settings
    const timer = this.#clock.setTimeout(
      () => abort.abort(new BatchTimeoutError(updateName, batchTimeoutMs)),
      batchTimeoutMs,
    )
    this.#batchAbort = abort
    try {
      const context = {
        updateName,
        database: this.database,
        progress,
        batchSize,
        signal: abort.signal,
        storage: reader,
      }
      const result = await untilAborted(callSafely(definition.handler, context), abort.signal)
      return checkBatchResult(updateName, result, definition.oneshot === true)
    } finally {
      this.#clock.clearTimeout(timer)
      this.#batchAbort = null
    }
  }

  #commit(updateName: string, result: CheckedBatchResult): Promise<CommitResult> {
    return this.#storage.commitBatch({
      updateName,
      writes: result.writes,
      progress: result.progress,
      done: result.done,
      leaseToken: this.#lease.token,
    })
  }

  /** The batch did not happen: the update left the queue, or the lease was lost (then stand by). */
  #notCommitted(updateName: string, reason: 'lease_lost' | 'update_missing'): StepOutcome {
    this.#logger.info({ update: updateName, reason }, 'A background update batch did not commit')
    this.#current = null
    if (reason === 'update_missing') return 'batch'

    this.#lease.drop('a batch commit was refused')
    return 'standby'
  }

  async #recordBatch(
    updateName: string,
    result: CheckedBatchResult,
    report: { readonly skippedCount: number },
    batchSize: number,
    durationMs: number,
  ): Promise<void> {
    const performance = this.#metrics.performanceOf(updateName)
    performance.record(result.items, durationMs)
    const outcomes = this.#addOutcomes(updateName, result, report)
    this.#metrics.setFractionDone(updateName, result.fractionDone)
    this.#failures = 0
    this.#transientAttempts = 0

    const event: UpdateBatchEvent = {
      database: this.database,
      name: updateName,
      items: result.items,
      duration_ms: durationMs,
      batch_size: batchSize,
      done: result.done,
      outcomes,
      skipped: report.skippedCount,
    }
    this.#report?.batches.push(event)
    this.#emitter.emit('update:batch', event)
    if (result.done) this.#complete(updateName, performance)

    await this.#storeSnapshot()
  }

  #addOutcomes(
    updateName: string,
    result: CheckedBatchResult,
    report: { readonly skippedCount: number },
  ): Outcomes {
    let outcomes: Outcomes = {}
    try {
      const raw =
        typeof result.outcomes === 'function' ? result.outcomes(report as never) : result.outcomes
      outcomes = raw === undefined ? {} : checkOutcomeCounts(updateName, raw)
    } catch (error) {
      this.#logger.error(
        { err: error, update: updateName },
        'Outcomes of a committed batch are lost',
      )
    }

    this.#metrics.addOutcomes(updateName, outcomes)
    return outcomes
  }

  #complete(updateName: string, performance: BatchPerformance): void {
    this.#current = null
    this.#report?.completed.push(updateName)
    this.#logger.info({ update: updateName }, 'Background update complete')
    this.#emitter.emit('update:complete', {
      database: this.database,
      name: updateName,
      total_item_count: performance.totalItemCount,
      total_duration_ms: performance.totalDurationMs,
    })
  }

  async #onStepError(
    error: unknown,
    updateName: string | null,
    limits: RunLimits,
  ): Promise<StepOutcome> {
    if (this.#stop.signal.aborted && this.#stopAborts) return 'stopped'
    if (error instanceof DependencyCycleError) return this.#abort(error, null)
    if (this.#storage.isTransientError?.(error)) return this.#retryLater(error, updateName, limits)

    this.#failures++
    if (this.#report) this.#report.failures++
    this.#lastError = describeError(error, updateName)
    this.#logger.error({ err: error, update: updateName, failures: this.#failures }, 'Batch failed')
    this.#emitter.emit('update:error', {
      database: this.database,
      name: updateName,
      error,
      failures: this.#failures,
      transient: false,
    })
    if (this.#failures >= failuresBeforeAbort) return this.#abort(error, updateName)

    return 'failed'
  }

  async #retryLater(
    error: unknown,
    updateName: string | null,
    limits: RunLimits,
  ): Promise<StepOutcome> {
    this.#transientAttempts++
    const { retryInitialDelayMs, retryMaxDelayMs } = this.#settings
    const delayMs = Math.min(
      retryInitialDelayMs * 2 ** (this.#transientAttempts - 1),
      retryMaxDelayMs,
    )
    this.#logger.warn(
      { err: error, update: updateName, delayMs },
      'Transient storage error; retrying',
    )
    this.#emitter.emit('update:error', {
      database: this.database,
      name: updateName,
      error,
      failures: this.#failures,
      transient: true,
    })
    if (this.#clock.now() + delayMs > limits.deadline) return 'out_of_time'

    await sleep(this.#clock, delayMs, this.#stop.signal)
    return 'retried'
  }

  #abort(error: unknown, updateName: string | null): StepOutcome {
    this.#aborted = true
    this.#lastError = describeError(error, updateName)
    this.#logger.error({ err: error, database: this.database }, 'Background updates aborted')
    this.#emitter.emit('runner:aborted', { database: this.database, error })
    void this.#storeSnapshot()
    return 'aborted'
  }

  #waitForWork(): Promise<void> {
    if (this.#woken) return Promise.resolve()

    const pollMs = this.#lease.store ? this.#settings.pollIntervalMs : null
    return new Promise((resolve) => {
      const signal = this.#stop.signal
      const finish = () => {
        if (handle !== null) this.#clock.clearTimeout(handle)
        signal.removeEventListener('abort', finish)
        this.#wake = null
        resolve()
      }
      const handle = pollMs === null ? null : this.#clock.setTimeout(finish, pollMs)
      signal.addEventListener('abort', finish, { once: true })
      this.#wake = finish
    })
  }

  #wakeUp(): void {
    this.#woken = true
    this.#wake?.()
  }

  #settleWaiters(pending: readonly QueuedUpdate[]): void {
    if (this.#waiters.size === 0) return

    const queued = new Set(pending.map((row) => row.update_name))
    if (this.#current !== null) queued.add(this.#current)
    this.#waiters.settle(queued)
  }

  #state(): RunnerState {
    if (this.#aborted) return 'aborted'
    if (!this.#enabled) return 'disabled'

    return this.#busy ?? 'idle'
  }

  #localStatus(plan: QueuePlan = this.#plan): RunnerStatus {
    return {
      database: this.database,
      enabled: this.#enabled,
      state: this.#state(),
      current_update: this.#updateStatus(),
      last_error: this.#lastError,
      pending_updates: plan.order,
      missing_handlers: plan.missingHandlers,
    }
  }

  #updateStatus(): UpdateStatus | null {
    return this.#current === null ? null : this.#metrics.status(this.#current)
  }

  async #sharedStatus(store: LeaseStore): Promise<RunnerStatus> {
    const shared = await store.readSharedState()
    this.#applyEnabled(shared.enabled)
    if (!shared.status) {
      const pending = await this.#storage.listPendingUpdates()
      return this.#localStatus(planQueue(pending, (name) => this.#registry.hasUpdate(name)))
    }

    const snapshot = shared.status as unknown as RunnerStatus
    return {
      ...snapshot,
      enabled: shared.enabled,
      state: sharedState(snapshot.state, shared.enabled),
    }
  }

  async #storeSnapshot(): Promise<void> {
    const store = this.#lease.store
    const token = this.#lease.token
    if (!store || !token) return

    try {
      await store.writeStatusSnapshot(token, this.#localStatus() as unknown as JsonObject)
    } catch (error) {
      this.#logger.warn({ err: error }, 'Could not store the background update status')
    }
  }
}

/** The state to report from a holder's snapshot, given the `enabled` flag stored since. */
function sharedState(state: RunnerState, enabled: boolean): RunnerState {
  if (state === 'aborted') return state
  if (!enabled) return 'disabled'

  return state === 'disabled' ? 'idle' : state
}

function checkBatchSize(hook: string, size: unknown): number {
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 1) {
    throw new RangeError(`${hook} must give an integer >= 1, got ${String(size)}`)
  }

  return size
}
