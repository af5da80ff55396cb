import type { StorageAdapter } from '../adapters/storage.js'
import { type Clock, systemClock } from './clock.js'
import { type Logger, silentLogger } from './logger.js'

/** What the controller hooks learn about a batch. */
export interface BatchInfo {
  readonly updateName: string
  readonly database: string

  /** Whether the update is one-shot (its target duration is not used). */
  readonly oneshot: boolean
}

/**
 * Hooks that take over batch pacing, as Synapse's background update controller module callbacks.
 */
export interface RunnerController {
  /**
   * Wraps each batch. It may sleep first, then calls `run` once with the target duration in
   * milliseconds, and resolves after `run` does. When set, the runner's own sleep is not applied. A
   * hook that never calls `run` skips the batch.
   */
  aroundBatch?(info: BatchInfo, run: (targetDurationMs: number) => Promise<void>): Promise<void>

  /** The size of an update's first batch. Default: the `defaultBatchSize` option. */
  defaultBatchSize?(updateName: string, database: string): number | Promise<number>

  /** The smallest batch size, at least 1. Default: the `minimumBatchSize` option. */
  minimumBatchSize?(updateName: string, database: string): number | Promise<number>
}

/** Options of {@link BackgroundUpdateRunner}. */
export interface RunnerOptions {
  /** Where the queue (and the capabilities jobs need) live. Required. */
  readonly storage: StorageAdapter

  /** The database name reported in status and events. Default `master`. */
  readonly database?: string

  /** The time source. Default: the real clock. */
  readonly clock?: Clock

  /** Where the runner logs. Default: nowhere. */
  readonly logger?: Logger

  /** How long a batch should take, in ms; batch sizes are tuned to it. Default 100. */
  readonly targetDurationMs?: number

  /** Whether to sleep before each batch. Default true. */
  readonly sleepEnabled?: boolean

  /** How long to sleep before each batch, in ms. Default 1000. */
  readonly sleepDurationMs?: number

  /** The size of an update's first batch (also after a restart). Default 100. */
  readonly defaultBatchSize?: number

  /** The smallest batch size. Default 1. */
  readonly minimumBatchSize?: number

  /** Past this many ms, a batch's signal aborts, it rolls back and counts as failed. Default 60,000. */
  readonly batchTimeoutMs?: number

  /** First pause before retrying after a transient storage error, in ms; doubles. Default 100. */
  readonly retryInitialDelayMs?: number

  /** The longest pause between transient retries, in ms. Default 10,000. */
  readonly retryMaxDelayMs?: number

  /** Whether to use the adapter's lease when it has one. Default true. */
  readonly useLease?: boolean

  /** This runner's name in the lease. Default: a random UUID. */
  readonly leaseOwner?: string

  /** How long the lease lasts without renewal, in ms. Default 10,000. */
  readonly leaseDurationMs?: number

  /** With a lease: how often an idle holder or a waiting process looks again, in ms. Default 5,000. */
  readonly pollIntervalMs?: number

  /** Batch pacing hooks. Default none. */
  readonly controller?: RunnerController
}

/** The options with every default filled in. */
export interface RunnerSettings extends Required<Omit<RunnerOptions, 'controller' | 'useLease'>> {
  readonly controller: RunnerController | null
  readonly useLease: boolean
}

const positiveIntegers = ['defaultBatchSize', 'minimumBatchSize'] as const
const durations = [
  'targetDurationMs',
  'sleepDurationMs',
  'batchTimeoutMs',
  'retryInitialDelayMs',
  'retryMaxDelayMs',
  'leaseDurationMs',
  'pollIntervalMs',
] as const

/**
 * Checks the options and fills in the defaults.
 *
 * @throws {TypeError} An option has the wrong type, or `storage` lacks a queue method.
 * @throws {RangeError} A number is out of range.
 */
export function resolveRunnerOptions(options: RunnerOptions): RunnerSettings {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('BackgroundUpdateRunner options must be an object')
  }

  checkStorage(options.storage)
  const settings: RunnerSettings = {
    storage: options.storage,
    database: options.database ?? 'master',
    clock: options.clock ?? systemClock,
    logger: options.logger ?? silentLogger,
    targetDurationMs: options.targetDurationMs ?? 100,
    sleepEnabled: options.sleepEnabled ?? true,
    sleepDurationMs: options.sleepDurationMs ?? 1000,
    defaultBatchSize: options.defaultBatchSize ?? 100,
    minimumBatchSize: options.minimumBatchSize ?? 1,
    batchTimeoutMs: options.batchTimeoutMs ?? 60_000,
    retryInitialDelayMs: options.retryInitialDelayMs ?? 100,
    retryMaxDelayMs: options.retryMaxDelayMs ?? 10_000,
    useLease: options.useLease ?? true,
    leaseOwner: options.leaseOwner ?? globalThis.crypto.randomUUID(),
    leaseDurationMs: options.leaseDurationMs ?? 10_000,
    pollIntervalMs: options.pollIntervalMs ?? 5_000,
    controller: options.controller ?? null,
  }

  checkSettings(settings)
  return settings
}

function checkStorage(storage: StorageAdapter | undefined): void {
  const methods = [
    'listPendingUpdates',
    'readProgress',
    'insertUpdates',
    'deleteUpdate',
    'commitBatch',
  ] as const
  for (const method of methods) {
    if (typeof storage?.[method] !== 'function') {
      throw new TypeError(`options.storage must be a StorageAdapter; it has no ${method}()`)
    }
  }
}

function checkSettings(settings: RunnerSettings): void {
  for (const name of ['database', 'leaseOwner'] as const) {
    if (typeof settings[name] !== 'string' || settings[name] === '') {
      throw new TypeError(`options.${name} must be a non-empty string`)
    }
  }
  for (const name of ['sleepEnabled', 'useLease'] as const) {
    if (typeof settings[name] !== 'boolean')
      throw new TypeError(`options.${name} must be a boolean`)
  }
  for (const name of positiveIntegers) checkNumber(name, settings[name], 1, true)
  for (const name of durations) checkNumber(name, settings[name], 0, false)
  if (settings.batchTimeoutMs === 0 || settings.leaseDurationMs <= settings.pollIntervalMs) {
    throw new RangeError('options.batchTimeoutMs must be > 0 and leaseDurationMs > pollIntervalMs')
  }
  if (settings.pollIntervalMs > 5_000 || settings.pollIntervalMs === 0) {
    throw new RangeError(
      `options.pollIntervalMs must be in (0, 5000], got ${settings.pollIntervalMs}`,
    )
  }
  checkHooks(settings)
}

function checkNumber(name: string, value: unknown, minimum: number, integer: boolean): void {
  if (typeof value !== 'number') throw new TypeError(`options.${name} must be a number`)
  if (!Number.isFinite(value) || value < minimum || (integer && !Number.isSafeInteger(value))) {
    const kind = integer ? 'an integer' : 'a finite number'
    throw new RangeError(`options.${name} must be ${kind} >= ${minimum}, got ${value}`)
  }
}

function checkHooks(settings: RunnerSettings): void {
  if (
    typeof settings.clock?.now !== 'function' ||
    typeof settings.clock.setTimeout !== 'function'
  ) {
    throw new TypeError('options.clock must have now(), setTimeout() and clearTimeout()')
  }
  for (const level of ['debug', 'info', 'warn', 'error'] as const) {
    if (typeof settings.logger?.[level] !== 'function') {
      throw new TypeError(`options.logger must have a ${level}() method`)
    }
  }
  if (settings.controller !== null && typeof settings.controller !== 'object') {
    throw new TypeError('options.controller must be an object of hooks')
  }
}
