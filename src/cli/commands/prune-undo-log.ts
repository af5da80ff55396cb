import { hostname } from 'node:os'
import {
  BackgroundUpdateRunner,
  type RunReport,
  UNDO_LOG_PRUNE,
  undoLogPruneJob,
} from 'matrix-background-updates'
import { type Command, flag, requiredOption } from '../command.js'
import { databaseOptions, databaseTarget, openDatabase } from '../database.js'
import { EXIT, OperationalError } from '../errors.js'
import { stopOnInterrupt } from '../interrupt.js'
import { type CliIo, notice, printJson, printLine } from '../io.js'

/**
 * `prune-undo-log`: deletes this server's entries of the undo log once a key rotation is final.
 * After it, `resign --revert` has nothing left to put back.
 */
export const pruneUndoLogCommand: Command = {
  name: 'prune-undo-log',
  summary: 'Delete the signatures kept for undoing re-signs, once a rotation is final.',
  positionals: [],
  options: {
    ...databaseOptions,
    'server-name': {
      type: 'string',
      value: '<name>',
      description: "The homeserver's server name: only its entries are deleted.",
    },
  },
  details: `Runs the undo_log_prune update in this process, holding the database's lease like resign.
Afterwards 'resign --revert' can no longer undo the re-signs made so far. Ctrl-C stops after the
batch in flight; run the same command again to continue.`,
  async run(args, io) {
    const serverName = requiredOption(args, 'server-name', 'prune-undo-log')
    const database = await openDatabase(databaseTarget(args, 'prune-undo-log'))
    try {
      const pruned = await prune(database.storage, serverName, io)
      if (flag(args, 'json')) printJson(io, { type: 'result', done: true, pruned })
      else printLine(io, `undo_log_prune is done: ${pruned} entries deleted.`)
      return EXIT.ok
    } finally {
      await database.close()
    }
  },
}

type PruneStorage = ConstructorParameters<typeof BackgroundUpdateRunner>[0]['storage']

async function prune(storage: PruneStorage, serverName: string, io: CliIo): Promise<number> {
  const runner = new BackgroundUpdateRunner({
    storage,
    sleepEnabled: false,
    leaseOwner: `matrix-bgupdates prune-undo-log on ${hostname()} (pid ${process.pid})`,
  })
  runner.registerJob(undoLogPruneJob({ serverName }))
  if ((await storage.readProgress(UNDO_LOG_PRUNE)) === null) {
    await runner.startJob(UNDO_LOG_PRUNE, {})
  }

  let pruned = 0
  runner.on('update:batch', (batch) => {
    if (batch.name === UNDO_LOG_PRUNE) pruned += batch.outcomes.pruned ?? 0
  })
  const interrupt = stopOnInterrupt(io, runner)
  let report: RunReport
  try {
    report = await runner.runFor(Number.POSITIVE_INFINITY)
  } finally {
    interrupt.dispose()
  }

  if ((await storage.readProgress(UNDO_LOG_PRUNE)) === null) return pruned
  if (report.endedBy === 'stopped') notice(io, 'Stopped. Run the same command again to continue.')
  throw new OperationalError(
    `undo_log_prune did not finish (the run ended: ${report.endedBy}); run the same command again`,
  )
}
