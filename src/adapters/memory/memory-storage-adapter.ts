import type { JsonObject } from '../../matrix/canonical-json.js'
import {
  applyStorageWrites,
  type CapabilityReader,
  type StorageWrite,
  type WriteReport,
} from '../capabilities.js'
import type {
  BatchCommit,
  CommitResult,
  NewQueuedUpdate,
  QueuedUpdate,
  StorageAdapter,
} from '../storage.js'
import {
  DuplicateCapabilityError,
  DuplicateUpdateError,
  MissingCapabilityError,
  UpdateHasDependentsError,
} from '../storage-errors.js'
import { isCommonTransientError } from '../transient-errors.js'
import { memoryHomeserverCapabilities } from './memory-built-ins.js'
import type { MemoryCapabilityInstance, MemoryCapabilityModule } from './memory-capability.js'
import { MemoryLease } from './memory-lease.js'
import { MemoryJournal, MemoryTable } from './memory-table.js'

/** Options of {@link MemoryStorageAdapter}. */
export interface MemoryStorageAdapterOptions {
  /** Capability modules to install, one per capability. Default none. */
  readonly capabilities?: readonly MemoryCapabilityModule[]

  /**
   * Installs the built-in capabilities first (`events`, `room_state`, `room_stats`, `undo_log`,
   * `user_directory`; see {@link memoryHomeserverCapabilities}), so the built-in jobs can be
   * registered. Default false: the adapter serves the queue and the given modules only.
   */
  readonly builtInCapabilities?: boolean

  /** The clock of the lease, such as the test kit's fake clock. Default `Date.now`. */
  readonly clock?: { now(): number }

  /** Classifies errors as transient. Default {@link isCommonTransientError}. */
  readonly isTransientError?: (error: unknown) => boolean
}

/**
 * Every storage contract in memory, with real transactions (a throw leaves nothing behind) and a
 * lease, so several runners in one process share it as processes share a database. The embedded
 * default and what unit tests use; its contents last as long as the object.
 */
export class MemoryStorageAdapter implements StorageAdapter {
  /** The lease shared by the runners of this adapter. */
  readonly lease: MemoryLease

  readonly #journal = new MemoryJournal()
  readonly #queue: MemoryTable<string, QueuedUpdate>
  readonly #installed = new Map<string, MemoryCapabilityInstance>()
  readonly #now: () => number
  readonly #isTransient: (error: unknown) => boolean

  /**
   * Creates an empty adapter.
   *
   * @throws {TypeError} An option has the wrong type.
   * @throws {DuplicateCapabilityError} Two modules have the same name.
   */
  constructor(options: MemoryStorageAdapterOptions = {}) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError('MemoryStorageAdapter options must be an object')
    }

    const clock = options.clock
    this.#now = clock ? () => clock.now() : () => Date.now()
    this.#isTransient = options.isTransientError ?? isCommonTransientError
    this.#queue = new MemoryTable(this.#journal)
    this.lease = new MemoryLease(this.#now)
    if (options.builtInCapabilities === true) {
      for (const module of memoryHomeserverCapabilities()) this.install(module)
    }
    for (const module of options.capabilities ?? []) this.install(module)
  }

  /** The names of the installed capabilities. */
  get capabilities(): readonly string[] {
    return [...this.#installed.keys()]
  }

  /**
   * Installs a capability module and returns its instance (for seeding helpers).
   *
   * @throws {TypeError} `module` has no name or no install function.
   * @throws {DuplicateCapabilityError} A capability of that name is installed already.
   */
  install<I extends MemoryCapabilityInstance>(module: MemoryCapabilityModule<I>): I {
    if (typeof module?.name !== 'string' || typeof module.install !== 'function') {
      throw new TypeError('A memory capability module needs a name and an install function')
    }
    if (this.#installed.has(module.name)) {
      throw new DuplicateCapabilityError(module.name)
    }

    const instance = module.install({
      table: () => new MemoryTable(this.#journal),
      now: this.#now,
    })
    this.#installed.set(module.name, instance)
    return instance
  }

  /**
   * The installed instance of a capability, with whatever the module added for tests and seeding.
   *
   * @throws {MissingCapabilityError} No module of that name is installed.
   */
  instance<I extends MemoryCapabilityInstance>(capability: string): I {
    const instance = this.#installed.get(capability)
    if (!instance) throw new MissingCapabilityError('This memory adapter', [capability])

    return instance as I
  }

  /** @inheritDoc */
  reader<K extends string>(capability: K): CapabilityReader<K> {
    return this.instance(capability).reader as CapabilityReader<K>
  }

  /** @inheritDoc */
  isTransientError(error: unknown): boolean {
    return this.#isTransient(error)
  }

  /** @inheritDoc */
  async listPendingUpdates(): Promise<QueuedUpdate[]> {
    return [...this.#queue.values()].sort(compareQueued).map(copyRow)
  }

  /** @inheritDoc */
  async readProgress(updateName: string): Promise<JsonObject | null> {
    const row = this.#queue.get(updateName)
    return row ? structuredClone(row.progress) : null
  }

  /** @inheritDoc */
  async insertUpdates(rows: readonly NewQueuedUpdate[]): Promise<void> {
    if (!Array.isArray(rows)) throw new TypeError('insertUpdates takes an array of rows')

    const normalized = rows.map(normalizeNewRow)
    const names = normalized.map((row) => row.update_name)
    const duplicates = names.filter(
      (name, index) => this.#queue.has(name) || names.indexOf(name) !== index,
    )
    if (duplicates.length > 0) throw new DuplicateUpdateError([...new Set(duplicates)])

    for (const row of normalized) this.#queue.set(row.update_name, row)
  }

  /** @inheritDoc */
  async deleteUpdate(updateName: string): Promise<boolean> {
    const dependents = [...this.#queue.values()]
      .filter((row) => row.depends_on === updateName)
      .map((row) => row.update_name)
    if (dependents.length > 0) throw new UpdateHasDependentsError(updateName, dependents)

    return this.#queue.delete(updateName)
  }

  /** @inheritDoc */
  async commitBatch(commit: BatchCommit): Promise<CommitResult> {
    return this.#journal.transaction(() => this.#commitInTransaction(commit))
  }

  #commitInTransaction(commit: BatchCommit): CommitResult {
    if (commit.leaseToken && !this.lease.isCurrent(commit.leaseToken)) {
      return { committed: false, reason: 'lease_lost' }
    }

    const row = this.#queue.get(commit.updateName)
    if (!row) return { committed: false, reason: 'update_missing' }

    const report = this.#applyWrites(commit.writes)

    if (commit.done) {
      this.#queue.delete(commit.updateName)
    } else {
      const progress =
        typeof commit.progress === 'function' ? commit.progress(report) : commit.progress
      checkProgress(commit.updateName, progress)
      this.#queue.set(commit.updateName, { ...row, progress: structuredClone(progress) })
    }

    return { committed: true, report }
  }

  #applyWrites(writes: readonly StorageWrite[]): WriteReport {
    return applyStorageWrites(
      writes,
      (write) => this.#installed.get(write.capability)?.operations[write.op],
    )
  }
}

function compareQueued(a: QueuedUpdate, b: QueuedUpdate): number {
  if (a.ordering !== b.ordering) return a.ordering - b.ordering

  return a.update_name < b.update_name ? -1 : a.update_name > b.update_name ? 1 : 0
}

function checkProgress(updateName: string, progress: unknown): asserts progress is JsonObject {
  if (typeof progress !== 'object' || progress === null || Array.isArray(progress)) {
    throw new TypeError(`progress of ${updateName} must be a JSON object`)
  }
}

function copyRow(row: QueuedUpdate): QueuedUpdate {
  return { ...row, progress: structuredClone(row.progress) }
}

function normalizeNewRow(row: NewQueuedUpdate): QueuedUpdate {
  if (typeof row?.update_name !== 'string' || row.update_name === '') {
    throw new TypeError('A queued update needs a non-empty string update_name')
  }

  const ordering = row.ordering ?? 0
  if (!Number.isSafeInteger(ordering)) {
    throw new RangeError(`ordering of ${row.update_name} must be a safe integer, got ${ordering}`)
  }

  const dependsOn = row.depends_on ?? null
  if (dependsOn !== null && typeof dependsOn !== 'string') {
    throw new TypeError(`depends_on of ${row.update_name} must be a string or null`)
  }

  const progress = row.progress ?? {}
  checkProgress(row.update_name, progress)

  return {
    update_name: row.update_name,
    progress: structuredClone(progress),
    depends_on: dependsOn,
    ordering,
  }
}
