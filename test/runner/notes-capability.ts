import type {
  MemoryCapabilityInstance,
  MemoryCapabilityModule,
  StorageWrite,
} from 'matrix-background-updates'

/** A note row, as the test capability stores it. */
export interface Note {
  readonly id: string
  readonly text: string
  readonly version: number
}

/** A row of the `notes.put` write; `expectedVersion` is checked under the `unchanged` condition. */
export interface NoteWrite {
  readonly id: string
  readonly text: string
  readonly expectedVersion?: number
  readonly explode?: boolean
}

export interface NotesReader {
  get(id: string): Note | undefined
  list(): Note[]
}

export interface NotesInstance extends MemoryCapabilityInstance<NotesReader> {
  seed(notes: readonly Note[]): void
}

declare module 'matrix-background-updates' {
  interface StorageCapabilities {
    notes: NotesReader
  }
}

/** A small capability used by the runner tests: notes with versions and a conditional put. */
export const notesCapability: MemoryCapabilityModule<NotesInstance> = {
  name: 'notes',
  install(context) {
    const notes = context.table<string, Note>()
    const put = (write: StorageWrite) => {
      const skipped: NoteWrite[] = []
      for (const row of write.rows as NoteWrite[]) {
        if (row.explode) throw new Error(`note ${row.id} cannot be written`)

        const current = notes.get(row.id)
        const unchanged = (current?.version ?? 0) === (row.expectedVersion ?? 0)
        if (write.condition === 'unchanged' && !unchanged) {
          skipped.push(row)
          continue
        }
        notes.set(row.id, { id: row.id, text: row.text, version: (current?.version ?? 0) + 1 })
      }
      return { skipped }
    }

    return {
      reader: {
        get: (id) => notes.get(id),
        list: () => [...notes.values()],
      },
      operations: { put },
      seed: (rows) => {
        for (const row of rows) notes.set(row.id, row)
      },
    }
  },
}
