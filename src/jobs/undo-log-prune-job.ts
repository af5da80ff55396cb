import { PRUNE_UNDO_LOG, UNDO_LOG_CAPABILITY } from '../adapters/capabilities/undo-log.js'
import type { JsonObject } from '../matrix/canonical-json.js'
import type { BatchContext, BatchResult, JobDefinition } from '../runner/job.js'
import { validateNoParams } from './event-resign-revert-job.js'
import { addCounts, type OutcomeCounts, readCounts } from './job-progress.js'
import { assertServerName } from './room-state.js'

/** The name of the job and of its one update. */
export const UNDO_LOG_PRUNE = 'undo_log_prune'

/** How to build the `undo_log_prune` job. */
export interface UndoLogPruneJobOptions {
  /** Our server name: only its entries are deleted. */
  readonly serverName: string

  /**
   * Whether the admin API's `start_job` may start it. Default false: pruning makes a re-sign final,
   * so a host exposes it deliberately; `runner.startJob('undo_log_prune', {})` works either way.
   */
  readonly startable?: boolean
}

/**
 * The `undo_log_prune` job: once a key rotation is final, deletes our server's undo log entries, so
 * `event_resign_revert` can no longer undo it and the log stops growing. Walks the log oldest first
 * and deletes a batch's worth of entries per transaction; entries appended after the job started
 * (by a later `event_resign`) may go too, since they are reached by the same walk. Counts
 * `pruned`. Takes no parameters. Needs the `undo_log` capability.
 *
 * @throws {TypeError} `serverName` is not a non-empty string.
 *
 * @example
 * ```ts
 * runner.registerJob(undoLogPruneJob({ serverName: 'example.org' }))
 * await runner.startJob('undo_log_prune', {})
 * ```
 */
export function undoLogPruneJob(options: UndoLogPruneJobOptions): JobDefinition<null> {
  assertServerName(options?.serverName)

  return {
    name: UNDO_LOG_PRUNE,
    startable: options.startable === true,
    validate: (params) => validateNoParams(params, UNDO_LOG_PRUNE),
    updates: [
      {
        name: UNDO_LOG_PRUNE,
        capabilities: [UNDO_LOG_CAPABILITY],
        initialProgress: () => ({ last_id: 0, counts: {} }),
        handler: (context) => pruneBatch(context, options.serverName),
      },
    ],
  }
}

async function pruneBatch(context: BatchContext, serverName: string): Promise<BatchResult> {
  const lastId = context.progress.last_id ?? 0
  if (!Number.isSafeInteger(lastId)) throw new TypeError('last_id must be a safe integer')

  const undoLog = context.storage.reader(UNDO_LOG_CAPABILITY)
  const page = await undoLog.page(lastId as number, context.batchSize, context.signal)
  const upTo = page.at(-1)?.id
  if (upTo === undefined) return { items: 0, done: true }

  const pruned = page.filter((entry) => entry.server_name === serverName).length
  const outcomes: OutcomeCounts = pruned > 0 ? { pruned } : {}
  const progress: JsonObject = {
    last_id: upTo,
    counts: addCounts(readCounts(context.progress, UNDO_LOG_PRUNE), outcomes),
  }
  return {
    items: page.length,
    writes: [
      {
        capability: UNDO_LOG_CAPABILITY,
        op: PRUNE_UNDO_LOG,
        rows: [{ server_name: serverName, up_to_id: upTo }],
      },
    ],
    outcomes,
    progress,
  }
}
