import { MatrixBackgroundUpdatesError } from '../matrix/errors.js'

/**
 * A job's parameters are invalid. The admin API answers 400 with `errcode` and this message
 * verbatim, so the message must name the field and never echo a secret.
 */
export class JobParameterError extends MatrixBackgroundUpdatesError {
  /** The parameter at fault, such as `old_key`. */
  readonly field: string

  /** The Matrix errcode to answer with, such as `M_INVALID_PARAM` or `M_UNKNOWN`. */
  readonly errcode: string

  /**
   * @param field The parameter at fault.
   * @param message The message the admin API returns as it is.
   * @param errcode The Matrix errcode. Default `M_INVALID_PARAM`.
   */
  constructor(field: string, message: string, errcode = 'M_INVALID_PARAM') {
    super('ERR_JOB_PARAMETER', message)
    this.field = field
    this.errcode = errcode
  }
}

/** A job, or one of its updates, has a name registered already. */
export class DuplicateJobError extends MatrixBackgroundUpdatesError {
  /** The name registered twice. */
  readonly duplicateName: string

  constructor(kind: 'job' | 'update', duplicateName: string) {
    super('ERR_DUPLICATE_JOB', `A ${kind} named ${duplicateName} is registered already`)
    this.duplicateName = duplicateName
  }
}

/** No job of that name is registered. */
export class UnknownJobError extends MatrixBackgroundUpdatesError {
  /** The name asked for. */
  readonly jobName: string

  constructor(jobName: string) {
    super('ERR_UNKNOWN_JOB', `No job named ${jobName} is registered`)
    this.jobName = jobName
  }
}

/** Updates remain queued but none can run: each waits, directly or not, for another. */
export class DependencyCycleError extends MatrixBackgroundUpdatesError {
  /** The queued updates that wait for each other. */
  readonly updateNames: readonly string[]

  constructor(updateNames: readonly string[]) {
    super(
      'ERR_DEPENDENCY_CYCLE',
      `No queued background update can run, dependency cycle: ${updateNames.join(', ')}`,
    )
    this.updateNames = updateNames
  }
}

/** A batch ran longer than `batchTimeoutMs`; it was aborted and rolled back. */
export class BatchTimeoutError extends MatrixBackgroundUpdatesError {
  /** The update whose batch timed out. */
  readonly updateName: string

  constructor(updateName: string, timeoutMs: number) {
    super('ERR_BATCH_TIMEOUT', `A batch of ${updateName} ran longer than ${timeoutMs} ms`)
    this.updateName = updateName
  }
}

/** A handler returned something that is not a batch result. The batch counts as failed. */
export class InvalidBatchResultError extends MatrixBackgroundUpdatesError {
  /** The update whose handler returned it. */
  readonly updateName: string

  constructor(updateName: string, reason: string) {
    super('ERR_INVALID_BATCH_RESULT', `The handler of ${updateName} returned ${reason}`)
    this.updateName = updateName
  }
}

/** The runner is already running batches (`start()` or `runFor()`), so it cannot start again. */
export class RunnerBusyError extends MatrixBackgroundUpdatesError {
  constructor() {
    super('ERR_RUNNER_BUSY', 'The runner is already running batches')
  }
}

/** The reason given to a batch's signal when `stop({ abort: true })` interrupts it. */
export class RunnerStoppedError extends MatrixBackgroundUpdatesError {
  constructor() {
    super('ERR_RUNNER_STOPPED', 'The runner was stopped')
  }
}
