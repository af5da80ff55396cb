// A host's own background update: lower-case every room alias, in batches, with the runner doing the
// pacing, the progress and the transaction. The host declares a storage capability for the rows it
// reads and writes, implements it for its database, and here also for the in-memory adapter its tests
// use.
import {
  type JobDefinition,
  JobParameterError,
  type MemoryCapabilityInstance,
  type MemoryCapabilityModule,
  type StorageWrite,
} from 'matrix-background-updates'

/** One row of the host's `room_aliases` table. */
export interface RoomAlias {
  readonly alias: string
  readonly roomId: string
}

/** The read side of the capability: a page of aliases after a given one, in alias order. */
export interface RoomAliasReader {
  page(after: string, limit: number): Promise<RoomAlias[]>
}

declare module 'matrix-background-updates' {
  interface StorageCapabilities {
    room_aliases: RoomAliasReader
  }
}

/** A rename of one alias, written only if the alias still points at the same room. */
interface AliasRename {
  readonly from: string
  readonly to: string
  readonly roomId: string
}

/** The capability for the memory adapter, with a helper to seed aliases in tests. */
export interface RoomAliasesInstance extends MemoryCapabilityInstance<RoomAliasReader> {
  seed(aliases: readonly RoomAlias[]): void
}

export const memoryRoomAliases: MemoryCapabilityModule<RoomAliasesInstance> = {
  name: 'room_aliases',
  install(context) {
    const aliases = context.table<string, RoomAlias>()
    const rename = (write: StorageWrite) => {
      const skipped: AliasRename[] = []
      for (const row of write.rows as AliasRename[]) {
        if (aliases.get(row.from)?.roomId !== row.roomId) {
          skipped.push(row)
          continue
        }
        aliases.delete(row.from)
        aliases.set(row.to, { alias: row.to, roomId: row.roomId })
      }
      return { skipped }
    }

    return {
      reader: {
        async page(after, limit) {
          const sorted = [...aliases.values()].sort((a, b) => (a.alias < b.alias ? -1 : 1))
          return sorted.filter((row) => row.alias > after).slice(0, limit)
        },
      },
      operations: { rename },
      seed(rows) {
        for (const row of rows) aliases.set(row.alias, row)
      },
    }
  },
}

/** The job: `{ "server_name": "example.org" }` limits it to the host's own aliases. */
export const lowercaseAliasesJob: JobDefinition<{ serverName: string }> = {
  name: 'lowercase_room_aliases',
  startable: true,
  validate(params) {
    const serverName = (params as { server_name?: unknown } | undefined)?.server_name
    if (typeof serverName !== 'string' || serverName === '') {
      throw new JobParameterError('server_name', "'server_name' must be a non-empty string")
    }
    return { serverName }
  },
  updates: [
    {
      name: 'lowercase_room_aliases',
      capabilities: ['room_aliases'],
      initialProgress: ({ serverName }) => ({ server_name: serverName, after: '', renamed: 0 }),
      async handler({ progress, batchSize, storage }) {
        const page = await storage.reader('room_aliases').page(progress.after as string, batchSize)
        if (page.length === 0) return { items: 0, done: true }

        const suffix = `:${progress.server_name as string}`
        const renames = page
          .filter((row) => row.alias.endsWith(suffix) && row.alias !== row.alias.toLowerCase())
          .map((row) => ({ from: row.alias, to: row.alias.toLowerCase(), roomId: row.roomId }))
        const last = page[page.length - 1] as RoomAlias
        return {
          items: page.length,
          writes: [{ capability: 'room_aliases', op: 'rename', rows: renames }],
          progress: (report) => ({
            ...progress,
            after: last.alias,
            renamed: (progress.renamed as number) + renames.length - report.skippedCount,
          }),
          outcomes: (report) => ({
            renamed: renames.length - report.skippedCount,
            unchanged: page.length - renames.length,
            skipped_moved: report.skippedCount,
          }),
        }
      },
    },
  ],
}
