import type { QueuedUpdate } from '../adapters/storage.js'

/** What the queue allows now. */
export interface QueuePlan {
  /** The update to run next, or null. */
  readonly next: string | null

  /** Every queued update in the order it would run; those that cannot run come last. */
  readonly order: readonly string[]

  /** Queued updates with no registered handler. */
  readonly missingHandlers: readonly string[]

  /** When nothing can run: the updates that wait for each other, else empty. */
  readonly cycle: readonly string[]
}

/**
 * Plans the queue as Synapse does: by `ordering`, then name (the order `pending` is in), skipping an
 * update while the one it depends on is queued. Updates without a handler never run.
 */
export function planQueue(
  pending: readonly QueuedUpdate[],
  hasHandler: (updateName: string) => boolean,
): QueuePlan {
  const missingHandlers = pending.map((row) => row.update_name).filter((name) => !hasHandler(name))
  const order = runOrder(pending, hasHandler)
  const next = order.length > 0 && isRunnable(pending, order[0] as string, hasHandler)
  const cycle = next || pending.length === 0 ? [] : findCycles(pending)

  return { next: next ? (order[0] as string) : null, order, missingHandlers, cycle }
}

function isRunnable(
  pending: readonly QueuedUpdate[],
  name: string,
  hasHandler: (updateName: string) => boolean,
): boolean {
  const row = pending.find((candidate) => candidate.update_name === name)
  return row !== undefined && hasHandler(name) && !queuedName(pending, row.depends_on)
}

function runOrder(
  pending: readonly QueuedUpdate[],
  hasHandler: (updateName: string) => boolean,
): string[] {
  let remaining = [...pending]
  const order: string[] = []
  for (;;) {
    const runnable = remaining.find(
      (row) => hasHandler(row.update_name) && !queuedName(remaining, row.depends_on),
    )
    if (!runnable) break

    order.push(runnable.update_name)
    remaining = remaining.filter((row) => row !== runnable)
  }

  return [...order, ...remaining.map((row) => row.update_name)]
}

function queuedName(rows: readonly QueuedUpdate[], name: string | null): boolean {
  return name !== null && rows.some((row) => row.update_name === name)
}

function findCycles(pending: readonly QueuedUpdate[]): string[] {
  const dependsOn = new Map(pending.map((row) => [row.update_name, row.depends_on]))
  const inCycle = new Set<string>()
  for (const start of dependsOn.keys()) {
    const path: string[] = []
    let current: string | null | undefined = start
    while (current != null && dependsOn.has(current) && !path.includes(current)) {
      path.push(current)
      current = dependsOn.get(current)
    }
    if (current != null && path.includes(current)) {
      for (const name of path.slice(path.indexOf(current))) inCycle.add(name)
    }
  }

  return pending.map((row) => row.update_name).filter((name) => inCycle.has(name))
}
