import type { StorageAdapter } from '../adapters/storage.js'
import { MissingCapabilityError } from '../adapters/storage-errors.js'
import { DuplicateJobError } from './errors.js'
import type { JobDefinition, StorageReader, UpdateDefinition } from './job.js'
import { checkJobDefinition } from './job-checks.js'

/** A registered update: its definition and the read access its handler gets. */
export interface RegisteredUpdate {
  readonly definition: UpdateDefinition<unknown>
  readonly reader: StorageReader
}

/** The jobs of one runner and the handlers of their updates, by name. */
export class JobRegistry {
  readonly #storage: StorageAdapter
  readonly #jobs = new Map<string, JobDefinition<unknown>>()
  readonly #updates = new Map<string, RegisteredUpdate>()

  /** Creates an empty registry for jobs that run on `storage`. */
  constructor(storage: StorageAdapter) {
    this.#storage = storage
  }

  /**
   * Registers a job after checking it. Returns the names of its updates.
   *
   * @throws {TypeError} The definition is malformed.
   * @throws {RangeError} An update's `ordering` is not a safe integer.
   * @throws {DuplicateJobError} The job or one of its updates is registered already.
   * @throws {MissingCapabilityError} The storage lacks a capability an update declares.
   */
  register(job: JobDefinition<unknown>): string[] {
    checkJobDefinition(job)
    this.#checkNotRegistered(job)
    this.#checkCapabilities(job)

    this.#jobs.set(job.name, job)
    for (const update of job.updates) {
      this.#updates.set(update.name, { definition: update, reader: this.#readerFor(update) })
    }
    return job.updates.map((update) => update.name)
  }

  /** The job of that name, or undefined. */
  job(name: string): JobDefinition<unknown> | undefined {
    return this.#jobs.get(name)
  }

  /** The names of the registered jobs, in registration order. */
  jobNames(): string[] {
    return [...this.#jobs.keys()]
  }

  /** The registered update of that name, or undefined. */
  update(name: string): RegisteredUpdate | undefined {
    return this.#updates.get(name)
  }

  /** Whether an update of that name has a handler. */
  hasUpdate(name: string): boolean {
    return this.#updates.has(name)
  }

  #checkNotRegistered(job: JobDefinition<unknown>): void {
    if (this.#jobs.has(job.name)) throw new DuplicateJobError('job', job.name)

    for (const update of job.updates) {
      if (this.#updates.has(update.name)) throw new DuplicateJobError('update', update.name)
    }
  }

  #checkCapabilities(job: JobDefinition<unknown>): void {
    const available = new Set(this.#storage.capabilities)
    const needed = new Set(job.updates.flatMap((update) => update.capabilities ?? []))
    const missing = [...needed].filter((capability) => !available.has(capability))
    if (missing.length > 0) throw new MissingCapabilityError(`Job ${job.name}`, missing)
  }

  /** Read access limited to the capabilities the update declares. */
  #readerFor(update: UpdateDefinition<unknown>): StorageReader {
    const declared = new Set(update.capabilities ?? [])
    const storage = this.#storage
    return {
      reader(capability) {
        if (!declared.has(capability)) {
          throw new MissingCapabilityError(`Update ${update.name} (undeclared)`, [capability])
        }
        return storage.reader(capability)
      },
    }
  }
}
