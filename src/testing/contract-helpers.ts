import type { MemoryEventSeed } from 'matrix-background-updates'

/** Our server name in the contract's data. */
export const SERVER = 'contract.example'

/** The error `work` throws or rejects with, or undefined when it succeeds. */
export async function caught(work: () => unknown): Promise<unknown> {
  try {
    await work()
    return undefined
  } catch (error) {
    return error
  }
}

/** The `code` of an error, or undefined. */
export function codeOf(error: unknown): unknown {
  return (error as { code?: unknown } | undefined)?.code
}

/** A small event of room version 10, sent by `sender`, at `stream_ordering`. */
export function contractEvent(
  index: number,
  sender = `@user${index}:${SERVER}`,
  overrides: Partial<MemoryEventSeed> = {},
): MemoryEventSeed {
  const event = {
    event_id: `$event${index}`,
    room_id: `!room:${SERVER}`,
    type: 'm.room.message',
    sender,
    content: { body: `message ${index}` },
    origin_server_ts: 1_700_000_000_000 + index,
  }

  return {
    event,
    stream_ordering: index,
    room_version: '10',
    received_ts: 1_700_000_000_000 + index,
    ...overrides,
  }
}

/** Rows sorted by their canonical text, so stores that return them in any order compare equal. */
export function sorted<T>(rows: readonly T[]): T[] {
  return [...rows].sort((a, b) => {
    const left = JSON.stringify(a)
    const right = JSON.stringify(b)
    return left < right ? -1 : left > right ? 1 : 0
  })
}
