import {
  BackgroundUpdateRunner,
  type JobDefinition,
  MemoryStorageAdapter,
  type RunnerOptions,
  type UpdateHandler,
} from 'matrix-background-updates'
import { FakeClock } from 'matrix-background-updates/testing'
import { notesCapability } from './notes-capability.js'

/** A fake clock, a memory adapter with the notes capability on that clock, and a runner on both. */
export function makeRunner(options: Partial<RunnerOptions> = {}) {
  const clock = (options.clock as FakeClock | undefined) ?? new FakeClock()
  const storage =
    (options.storage as MemoryStorageAdapter | undefined) ??
    new MemoryStorageAdapter({ clock, capabilities: [notesCapability] })
  const runner = new BackgroundUpdateRunner({ sleepEnabled: false, ...options, storage, clock })
  return { clock, storage, runner }
}

/** A job of one update with the given handler, not startable. */
export function singleUpdateJob(
  name: string,
  handler: UpdateHandler,
  extra: Partial<JobDefinition['updates'][number]> = {},
): JobDefinition {
  return { name, updates: [{ name, handler, ...extra }] }
}

/** A handler that counts batches and is done after `batches` of them. */
export function countingHandler(batches: number): UpdateHandler & { calls: number } {
  const handler = async (context: Parameters<UpdateHandler>[0]) => {
    handler.calls++
    const done = ((context.progress.batches as number | undefined) ?? 0) + 1
    if (done >= batches) return { items: 1, done: true as const }

    return { items: 1, progress: { batches: done } }
  }
  handler.calls = 0
  return handler
}
