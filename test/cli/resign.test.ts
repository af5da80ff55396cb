import { copyFile } from 'node:fs/promises'
import Database from 'better-sqlite3'
import { verifyEventSignature } from 'matrix-background-updates'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { jsonLines, runCli, startCli, temporaryFolder } from './run-cli.js'
import {
  createHomeserverFiles,
  type HomeserverFiles,
  ownEvents,
  SERVER_NAME,
} from './sqlite-homeserver.js'

let folder: Awaited<ReturnType<typeof temporaryFolder>>
let files: HomeserverFiles

beforeEach(async () => {
  folder = await temporaryFolder()
  files = await createHomeserverFiles(folder.path)
})

afterEach(async () => {
  await folder.remove()
})

/** `resign` against the test database, with the new key file. */
function resignArgs(...extra: string[]): string[] {
  return [
    'resign',
    '--sqlite',
    files.database,
    '--key-file',
    files.keyFile,
    '--server-name',
    SERVER_NAME,
    ...extra,
  ]
}

/** The stored JSON of every event, ours and other servers', by ID. */
function storedJson(path = files.database): Map<string, string> {
  const database = new Database(path, { readonly: true })
  try {
    const rows = database.prepare('SELECT event_id, json FROM event_json').all() as {
      event_id: string
      json: string
    }[]
    return new Map(rows.map((row) => [row.event_id, row.json]))
  } finally {
    database.close()
  }
}

/** How many of our events carry exactly one signature of ours, by the new key, that verifies. */
async function countSignedByNewKey(): Promise<number> {
  const adapter = files.open()
  try {
    let count = 0
    for (const { row, event } of await ownEvents(adapter)) {
      const ours = Object.keys(event.signatures?.[SERVER_NAME] ?? {})
      const verifies = await verifyEventSignature(
        event,
        row.room_version as string,
        SERVER_NAME,
        files.newKey.verifyKey,
      )
      if (ours.length === 1 && ours[0] === files.newKey.keyId && verifies) count += 1
    }
    return count
  } finally {
    await adapter.close()
  }
}

/** The outcome counts of a JSON line `resign` printed. */
function outcomesOf(line: Record<string, unknown> | undefined): Record<string, number> {
  return (line?.outcomes ?? {}) as Record<string, number>
}

async function queued(): Promise<string[]> {
  const adapter = files.open()
  try {
    return (await adapter.listPendingUpdates()).map((row) => row.update_name)
  } finally {
    await adapter.close()
  }
}

describe('matrix-bgupdates resign against a SQLite database', () => {
  it('counts what it would re-sign with --dry-run and writes nothing', async () => {
    const before = storedJson()
    const result = await runCli(resignArgs('--dry-run', '--old-key', files.oldKeyText, '--json'))
    const [summary] = jsonLines(result.stdout)

    expect(result.code).toBe(0)
    expect(summary).toMatchObject({ type: 'result', dry_run: true })
    expect(outcomesOf(summary).resigned).toBeGreaterThan(100)
    expect(before.size).toBe(files.summary.events)
    expect(storedJson()).toEqual(before)
    expect(await queued()).toEqual([])
  })

  it('re-signs every event of ours with the new key and reports the outcomes', async () => {
    const dryRun = jsonLines((await runCli(resignArgs('--dry-run', '--json'))).stdout)
    const result = await runCli(resignArgs('--old-key', files.oldKeyText))
    const expected = outcomesOf(dryRun[0]).resigned

    expect(result.code).toBe(0)
    expect(result.stdout).toContain(`event_resign is done: ${expected} events re-signed.`)
    expect(result.stderr).toBe('') // not a terminal: no progress bar
    expect(await countSignedByNewKey()).toBe(expected)
    expect(await queued()).toEqual([])
  })

  it('writes with --threads exactly what it writes on the main thread', async () => {
    const copy = `${files.database}.copy`
    await copyFile(files.database, copy)
    const onMain = await runCli(resignArgs().map((arg) => (arg === files.database ? copy : arg)))
    const onWorkers = await runCli(resignArgs('--threads', '2', '--json'))
    const result = jsonLines(onWorkers.stdout).at(-1)

    expect(onMain.code).toBe(0)
    expect(onWorkers.code).toBe(0)
    expect(result).toMatchObject({ type: 'result', done: true })
    expect(outcomesOf(result).resigned).toBeGreaterThan(100)
    expect(storedJson()).toEqual(storedJson(copy))
    expect(await countSignedByNewKey()).toBe(outcomesOf(result).resigned)
  })

  it('refuses --threads with --revert or --dry-run with exit code 2', async () => {
    for (const other of ['--revert', '--dry-run']) {
      const result = await runCli(resignArgs('--threads', '2', other))

      expect(result.code).toBe(2)
      expect(result.stderr).toBe(
        'matrix-bgupdates: --threads applies to a re-sign, not to --revert or --dry-run\n',
      )
    }
  })

  it('finds nothing left to re-sign when run again', async () => {
    await runCli(resignArgs())
    const again = await runCli(resignArgs('--json'))
    const result = jsonLines(again.stdout).at(-1)

    expect(again.code).toBe(0)
    expect(result).toMatchObject({ type: 'result', done: true })
    expect(outcomesOf(result).resigned ?? 0).toBe(0)
  })

  it("refuses to run while another process holds the database's lease", async () => {
    const adapter = files.open()
    const token = await adapter.lease.acquire('a homeserver', 60_000)
    const result = await runCli(resignArgs())
    if (token) await adapter.lease.release(token)
    await adapter.close()

    expect(token).not.toBeNull()
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('another process holds the background update lease')
    expect(await countSignedByNewKey()).toBe(0)
  })

  it('refuses to run while background updates are disabled in the database', async () => {
    const adapter = files.open()
    await adapter.lease.writeEnabled(false)
    await adapter.close()
    const result = await runCli(resignArgs())

    expect(result.code).toBe(1)
    expect(result.stderr).toContain('background updates are disabled')
  })

  it('stops after the batch in flight on Ctrl-C, and a re-run continues where it stopped', async () => {
    const expected = jsonLines((await runCli(resignArgs('--dry-run', '--json'))).stdout)[0]
    const first = startCli(resignArgs('--json', '--batch-size', '20', '--sleep-ms', '300'))
    await first.stdoutLine((line) => line.includes('"type":"progress"'))
    first.child.kill('SIGINT')
    const stopped = await first.result
    const signedWhenStopped = await countSignedByNewKey()
    const queuedWhenStopped = await queued()

    const second = await runCli(resignArgs('--json'))
    const total = outcomesOf(expected).resigned

    expect(stopped.code).toBe(130)
    expect(stopped.stderr).toContain('Stopping after the batch in flight')
    expect(stopped.stderr).toContain('Run the same command again to continue')
    expect(jsonLines(stopped.stdout).at(-1)).toMatchObject({ type: 'result', done: false })
    expect(signedWhenStopped).toBeGreaterThan(0)
    expect(signedWhenStopped).toBeLessThan(total as number)
    expect(queuedWhenStopped).toEqual(['event_resign'])
    expect(second.code).toBe(0)
    expect(jsonLines(second.stdout).at(-1)).toMatchObject({
      type: 'result',
      done: true,
      outcomes: expect.objectContaining({ resigned: total }),
    })
    expect(await countSignedByNewKey()).toBe(total)
  })

  it('cancels a queued update, and fails for one that is not queued', async () => {
    const first = startCli(resignArgs('--json', '--batch-size', '20', '--sleep-ms', '300'))
    await first.stdoutLine((line) => line.includes('"type":"progress"'))
    first.child.kill('SIGINT')
    await first.result

    const cancelled = await runCli(['cancel', 'event_resign', '--sqlite', files.database])
    const again = await runCli(['cancel', 'event_resign', '--sqlite', files.database])

    expect(cancelled.code).toBe(0)
    expect(cancelled.stdout).toBe('Cancelled event_resign.\n')
    expect(await queued()).toEqual([])
    expect(again.code).toBe(1)
    expect(again.stderr).toBe('matrix-bgupdates: no update named event_resign is queued\n')
  })

  it('refuses other parameters while an event_resign is queued', async () => {
    const first = startCli(resignArgs('--json', '--batch-size', '20', '--sleep-ms', '300'))
    await first.stdoutLine((line) => line.includes('"type":"progress"'))
    first.child.kill('SIGINT')
    await first.result

    const result = await runCli(resignArgs('--before-ts', '1000'))

    expect(result.code).toBe(1)
    expect(result.stderr).toContain('cancel it first: matrix-bgupdates cancel event_resign')
  })

  it('puts every event back as it was with --revert', async () => {
    const before = storedJson()
    const resigned = await runCli(resignArgs('--json'))
    const reverted = await runCli(resignArgs('--revert'))
    const total = outcomesOf(jsonLines(resigned.stdout).at(-1)).resigned

    expect(total).toBeGreaterThan(100)
    expect(reverted.code).toBe(0)
    expect(reverted.stdout).toContain(`event_resign_revert is done: ${total} events reverted.`)
    expect(storedJson()).toEqual(before)
    expect(await queued()).toEqual([])
  })

  it('prunes the undo log once the rotation is final, after which --revert changes nothing', async () => {
    const resigned = await runCli(resignArgs('--json'))
    const total = outcomesOf(jsonLines(resigned.stdout).at(-1)).resigned
    const afterResign = storedJson()

    const pruned = await runCli([
      'prune-undo-log',
      '--sqlite',
      files.database,
      '--server-name',
      SERVER_NAME,
      '--json',
    ])
    const reverted = await runCli(resignArgs('--revert'))

    expect(pruned.code).toBe(0)
    expect(jsonLines(pruned.stdout).at(-1)).toEqual({ type: 'result', done: true, pruned: total })
    expect(reverted.code).toBe(0)
    expect(reverted.stdout).toContain('event_resign_revert is done: 0 events reverted.')
    expect(storedJson()).toEqual(afterResign)
    expect(await queued()).toEqual([])
  })

  it('refuses prune-undo-log without --server-name with exit code 2', async () => {
    const result = await runCli(['prune-undo-log', '--sqlite', files.database])

    expect(result.code).toBe(2)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
  })

  it('refuses --revert with --old-key, --before-ts or --dry-run with exit code 2', async () => {
    const result = await runCli(resignArgs('--revert', '--dry-run'))

    expect(result.code).toBe(2)
    expect(result.stderr).toBe(
      'matrix-bgupdates: --revert takes no --old-key, --before-ts or --dry-run\n',
    )
  })

  it('fails with exit code 1 for a database file that does not exist', async () => {
    const result = await runCli([
      ...resignArgs().map((arg) => (arg === files.database ? `${arg}.missing` : arg)),
    ])

    expect(result.code).toBe(1)
    expect(result.stderr).toBe(`matrix-bgupdates: no database file at ${files.database}.missing\n`)
  })

  it('refuses an --old-key that is the current key with exit code 2', async () => {
    const current = `${files.newKey.keyId} ${Buffer.from(files.newKey.verifyKey.bytes).toString('base64').replace(/=+$/, '')}`
    const result = await runCli(resignArgs('--old-key', current))

    expect(result.code).toBe(2)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
  })
})
