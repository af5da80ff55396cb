import type { BackgroundUpdateRunner, RunReport } from 'matrix-background-updates'
import { MatrixBackgroundUpdatesError } from 'matrix-background-updates'

/**
 * Runs batches without sleeping until nothing is runnable, the runner is disabled or it aborts, and
 * returns what ran: the batches, the completed updates, the failures and why it ended. A transient
 * storage error waits for its retry pause on the runner's clock.
 *
 * @throws {RunnerBusyError} The runner is started.
 * @throws {MatrixBackgroundUpdatesError} Another runner holds the lease of the storage
 * (`ERR_NOT_LEASE_HOLDER`), so this one cannot run batches.
 */
export async function runUntilIdle(runner: BackgroundUpdateRunner): Promise<RunReport> {
  const report = await runner.runFor(Number.POSITIVE_INFINITY, { sleep: false })
  if (report.endedBy === 'standby') {
    throw new MatrixBackgroundUpdatesError(
      'ERR_NOT_LEASE_HOLDER',
      'runUntilIdle: another runner holds the lease of this storage',
    )
  }

  return report
}
