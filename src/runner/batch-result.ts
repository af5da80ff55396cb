import type { StorageWrite, WriteReport } from '../adapters/capabilities.js'
import type { ProgressValue } from '../adapters/storage.js'
import { InvalidBatchResultError } from './errors.js'
import type { Outcomes } from './job.js'

/** A handler's result after checking, with every default filled in. */
export interface CheckedBatchResult {
  readonly items: number
  readonly done: boolean
  readonly progress: ProgressValue
  readonly writes: readonly StorageWrite[]
  readonly outcomes: Outcomes | ((report: WriteReport) => Outcomes) | undefined
  readonly fractionDone: number | null | undefined
}

const noWrites: readonly StorageWrite[] = []

/**
 * Checks what a handler returned. A one-shot update is done after its first batch.
 *
 * @throws {InvalidBatchResultError} The result is malformed.
 */
export function checkBatchResult(
  updateName: string,
  result: unknown,
  oneshot: boolean,
): CheckedBatchResult {
  const fail = (reason: string) => new InvalidBatchResultError(updateName, reason)
  if (typeof result !== 'object' || result === null) throw fail('no result object')

  const raw = result as Record<string, unknown>
  const done = oneshot || raw.done === true
  if (raw.done !== undefined && typeof raw.done !== 'boolean') throw fail('a non-boolean done')
  if (!Number.isSafeInteger(raw.items) || (raw.items as number) < 0) {
    throw fail(`items ${String(raw.items)}, not a non-negative integer`)
  }
  if (!done && !isProgress(raw.progress)) throw fail('neither done nor a progress object')

  return {
    items: raw.items as number,
    done,
    progress: done ? {} : (raw.progress as ProgressValue),
    writes: checkWrites(raw.writes, fail),
    outcomes: checkOutcomes(raw.outcomes, fail),
    fractionDone: checkFraction(raw.fractionDone, fail),
  }
}

/**
 * Checks outcome counts: finite numbers by kind.
 *
 * @throws {InvalidBatchResultError} A count is not a finite number.
 */
export function checkOutcomeCounts(updateName: string, outcomes: unknown): Outcomes {
  if (typeof outcomes !== 'object' || outcomes === null) {
    throw new InvalidBatchResultError(updateName, 'outcomes that are not an object')
  }
  for (const [kind, count] of Object.entries(outcomes)) {
    if (typeof count !== 'number' || !Number.isFinite(count)) {
      throw new InvalidBatchResultError(updateName, `outcome ${kind} that is not a finite number`)
    }
  }

  return outcomes as Outcomes
}

function isProgress(value: unknown): boolean {
  if (typeof value === 'function') return true

  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function checkWrites(
  writes: unknown,
  fail: (reason: string) => InvalidBatchResultError,
): readonly StorageWrite[] {
  if (writes === undefined) return noWrites
  if (!Array.isArray(writes)) throw fail('writes that are not an array')

  for (const write of writes as StorageWrite[]) {
    const valid =
      typeof write?.capability === 'string' &&
      typeof write.op === 'string' &&
      Array.isArray(write.rows)
    if (!valid) throw fail('a write without a string capability, a string op and an array of rows')
  }

  return writes as StorageWrite[]
}

function checkOutcomes(
  outcomes: unknown,
  fail: (reason: string) => InvalidBatchResultError,
): CheckedBatchResult['outcomes'] {
  if (outcomes === undefined || typeof outcomes === 'function') {
    return outcomes as CheckedBatchResult['outcomes']
  }
  if (typeof outcomes !== 'object' || outcomes === null)
    throw fail('outcomes that are not an object')

  return outcomes as Outcomes
}

function checkFraction(
  fraction: unknown,
  fail: (reason: string) => InvalidBatchResultError,
): number | null | undefined {
  if (fraction === undefined || fraction === null) return fraction
  if (typeof fraction !== 'number' || !(fraction >= 0 && fraction <= 1)) {
    throw fail(`fractionDone ${String(fraction)}, not a number from 0 to 1`)
  }

  return fraction
}
