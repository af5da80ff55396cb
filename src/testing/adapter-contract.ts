import type {
  DirectorySnapshot,
  MemoryEventSeed,
  MemoryProfileSeed,
  RoomStatsRow,
  StorageAdapter,
  UndoLogEntry,
} from 'matrix-background-updates'
import { contractCapabilityTests } from './contract-capabilities.js'
import { contractJobTests } from './contract-jobs.js'
import { contractLeaseTests } from './contract-lease.js'
import { contractQueueTests } from './contract-queue.js'
import { contractUndoRevertTests } from './contract-undo-revert.js'
import { FakeClock } from './fake-clock.js'

type MaybePromise<T> = T | Promise<T>

/**
 * Seeds and inspects an adapter's homeserver data, as the memory adapter's `MemoryHomeserver` and
 * the SQLite adapter's `SqliteHomeserver` do. A host implements it over its own schema.
 */
export interface ContractHomeserver {
  addEvents(seeds: readonly MemoryEventSeed[]): MaybePromise<void>
  storedJson(eventId: string): MaybePromise<string | undefined>
  writeStoredJson(eventId: string, json: string): MaybePromise<void>
  setRoomState(roomId: string, stateEvents: readonly unknown[]): MaybePromise<void>
  addUsers(users: Readonly<Record<string, MemoryProfileSeed | null>>): MaybePromise<void>
  setStreamPosition(position: number): MaybePromise<void>
  roomStats(): MaybePromise<Record<string, RoomStatsRow | null>>
  undoLog(): MaybePromise<UndoLogEntry[]>
  directory(): MaybePromise<DirectorySnapshot>
}

/** One adapter under test, fresh and empty, with its schema ready. */
export interface ContractSubject {
  /** The adapter, serving the queue, the lease and the built-in capabilities. */
  readonly storage: StorageAdapter

  /** Seeds and inspects its data. */
  readonly homeserver: ContractHomeserver

  /** Releases what the subject holds (closes files, removes temp dirs). */
  close?(): Promise<void>
}

/** Makes a fresh subject whose lease reads time from `clock`. */
export type MakeContractSubject = (clock: FakeClock) => Promise<ContractSubject>

/** The assertions the suite uses: a subset of Vitest's and Jest's `expect`. */
export type ContractExpect = (actual: unknown) => {
  toEqual(expected: unknown): void
  toBe(expected: unknown): void
}

/** The host's test functions, so the suite runs under any test runner. */
export interface ContractTestFunctions {
  describe(name: string, body: () => void): void
  it(name: string, body: () => Promise<void>): void
  expect: ContractExpect
}

/** What each test gets: a fresh subject and its clock, closed after the test. */
export interface ContractContext {
  readonly clock: FakeClock
  readonly subject: ContractSubject
}

/** Runs `body` against a fresh subject, closing it afterwards whatever happens. */
export type WithSubject = (body: (context: ContractContext) => Promise<void>) => Promise<void>

/**
 * Checks that a storage adapter keeps every contract the runner and the built-in jobs rely on:
 * queue semantics and duplicates, transactions rolling back on a throw, conditional writes,
 * malformed rows, each capability of the built-in jobs and the undo log, every built-in job end to
 * end on a generated data set (with the same results as the memory adapter), resuming after a
 * stop, and the lease with its fencing token. Takes the host's `describe`, `it` and `expect`.
 *
 * @example
 * ```ts
 * import { describe, expect, it } from 'vitest'
 * runAdapterContract(async (clock) => {
 *   const storage = new SqliteStorageAdapter({ database: ':memory:', clock })
 *   await storage.migrate()
 *   return { storage, homeserver: new SqliteHomeserver(storage) }
 * }, { describe, it, expect })
 * ```
 */
export function runAdapterContract(
  makeAdapter: MakeContractSubject,
  functions: ContractTestFunctions,
): void {
  const withSubject: WithSubject = async (body) => {
    const clock = new FakeClock(1_000_000)
    const subject = await makeAdapter(clock)
    try {
      await body({ clock, subject })
    } finally {
      await subject.close?.()
    }
  }

  functions.describe('storage adapter contract', () => {
    contractQueueTests(functions, withSubject)
    contractCapabilityTests(functions, withSubject)
    contractLeaseTests(functions, withSubject)
    contractJobTests(functions, withSubject)
    contractUndoRevertTests(functions, withSubject)
  })
}
