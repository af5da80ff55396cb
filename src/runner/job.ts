import type { CapabilityReader, StorageWrite, WriteReport } from '../adapters/capabilities.js'
import type { ProgressValue } from '../adapters/storage.js'
import type { JsonObject } from '../matrix/canonical-json.js'

/** The read access a handler has: the read side of the capabilities its update declares. */
export interface StorageReader {
  /**
   * The read side of a declared capability.
   *
   * @throws {MissingCapabilityError} The update did not declare it.
   */
  reader<K extends string>(capability: K): CapabilityReader<K>
}

/** What a handler receives for one batch. */
export interface BatchContext {
  /** The update being run. */
  readonly updateName: string

  /** The runner's database name, such as `master`. */
  readonly database: string

  /** The progress committed by the previous batch (`{}` before the first), a copy it may keep. */
  readonly progress: JsonObject

  /** How many items to process, tuned to the target duration. At least the minimum size. */
  readonly batchSize: number

  /** Aborted when the batch times out or the runner is stopped with `abort`. */
  readonly signal: AbortSignal

  /** Read access to storage. Handlers never write directly: they return writes. */
  readonly storage: StorageReader
}

/** Counts by kind of what a batch did, such as `{ resigned: 98, skipped_foreign: 2 }`. */
export type Outcomes = Readonly<Record<string, number>>

/** Fields every batch result has. */
export interface BatchResultBase {
  /** How many items the batch processed; drives batch-size tuning. A non-negative integer. */
  readonly items: number

  /** Writes to apply in the batch's transaction, as data. Default none. */
  readonly writes?: readonly StorageWrite[]

  /**
   * Counts to add to the update's outcomes. A function is called after the commit with the report
   * of the writes (for example to count skipped rows).
   */
  readonly outcomes?: Outcomes | ((report: WriteReport) => Outcomes)

  /** How much of the update is done, from 0 to 1, when the handler can tell. */
  readonly fractionDone?: number | null
}

/** A batch after which the update goes on: its new progress is committed with its writes. */
export interface BatchInProgress extends BatchResultBase {
  readonly done?: false

  /** The new progress, or a function of the write report computed inside the transaction. */
  readonly progress: ProgressValue
}

/** The last batch: its writes and the removal of the update from the queue commit together. */
export interface BatchDone extends BatchResultBase {
  readonly done: true
}

/** What a handler returns for one batch. */
export type BatchResult = BatchInProgress | BatchDone

/** Processes one batch of an update. It may read storage but writes only by returning writes. */
export type UpdateHandler = (context: BatchContext) => Promise<BatchResult>

/** One update a job queues, with the handler that runs it. */
export interface UpdateDefinition<Params = unknown> {
  /** The update's name, unique among registered updates; the queue's `update_name`. */
  readonly name: string

  /** Processes one batch. */
  readonly handler: UpdateHandler

  /** Storage capabilities the handler reads or writes, checked at registration. Default none. */
  readonly capabilities?: readonly string[]

  /** A one-shot update runs as one batch: its first result ends it, whatever `done` says. */
  readonly oneshot?: boolean

  /** The update that must finish first, queued as `depends_on`. Default none. */
  readonly dependsOn?: string | null

  /** The queue's `ordering`. Default 0. */
  readonly ordering?: number

  /** The progress to queue it with, from the validated parameters. Default `{}`. */
  readonly initialProgress?: (params: Params) => JsonObject
}

/** A job: validated parameters and the updates it queues. Registered with `runner.registerJob`. */
export interface JobDefinition<Params = unknown> {
  /** The job's name, as the admin API's `job_name`. */
  readonly name: string

  /** Whether the admin API may start it. Default false. */
  readonly startable?: boolean

  /**
   * Checks raw parameters and returns them typed, or a promise of them when a check needs storage or
   * a key provider. Default: the parameters as given.
   *
   * @throws {JobParameterError} A parameter is invalid.
   */
  readonly validate?: (params: unknown) => Params | Promise<Params>

  /** The updates to queue, in order. At least one. */
  readonly updates: readonly UpdateDefinition<Params>[]
}
