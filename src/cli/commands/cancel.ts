import { UpdateHasDependentsError } from 'matrix-background-updates'
import { type Command, flag } from '../command.js'
import { databaseOptions, databaseTarget, openDatabase } from '../database.js'
import { EXIT, OperationalError, oneLine } from '../errors.js'
import { printJson, printLine } from '../io.js'

/** `cancel <update>`: removes a queued update from the database. */
export const cancelCommand: Command = {
  name: 'cancel',
  summary: 'Remove a queued background update from the database.',
  positionals: ['<update>'],
  options: databaseOptions,
  details: `Works on the database directly. A batch of the update in flight in another process does not
commit. Refused while another queued update depends on it.`,
  async run(args, io) {
    const [update] = args.positionals as [string]
    const database = await openDatabase(databaseTarget(args, 'cancel'))
    try {
      const removed = await removeUpdate(database.storage, update)
      if (!removed) throw new OperationalError(`no update named ${update} is queued`)
    } finally {
      await database.close()
    }

    if (flag(args, 'json')) printJson(io, { cancelled: update })
    else printLine(io, `Cancelled ${update}.`)
    return EXIT.ok
  },
}

async function removeUpdate(
  storage: { deleteUpdate(name: string): Promise<boolean> },
  update: string,
): Promise<boolean> {
  try {
    return await storage.deleteUpdate(update)
  } catch (error) {
    if (error instanceof UpdateHasDependentsError) throw new OperationalError(oneLine(error))
    throw error
  }
}
