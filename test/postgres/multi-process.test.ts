import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  connectionStringFor,
  createDatabase,
  postgresSkipReason,
  serverConfig,
} from './postgres-server.js'

/** The child script imports the built package: `npm test` builds first. */
const SCRIPT = fileURLToPath(new URL('./runner-process.mjs', import.meta.url))
const ITEMS = 240
const LEASE_MS = 1500
const POLL_MS = 200
/** Generous: a takeover is expected within LEASE_MS plus a poll; this only catches a hang. */
const TAKEOVER_DEADLINE_MS = 10_000
const DONE_DEADLINE_MS = 30_000

interface Runner {
  readonly owner: string
  readonly child: ChildProcess
  readonly logs: string[]
  /** Every log line with its level, time and details, for failure messages. */
  readonly details: string[]
  call(command: string, argument?: unknown): Promise<unknown>
}

interface AdminAnswer {
  readonly status: number
  readonly body: Record<string, unknown>
}

const skip = await postgresSkipReason()
let database: { name: string; drop(): Promise<void> }
let db: pg.Pool
const runners: Runner[] = []

beforeEach(async () => {
  if (skip) return
  database = await createDatabase('multi')
  db = new pg.Pool({ ...serverConfig(database.name), max: 2 })
  await db.query('CREATE TABLE mp_items (id INTEGER PRIMARY KEY)')
  // No unique key on purpose: a batch committed twice would show up as a repeated item_id.
  await db.query(
    'CREATE TABLE mp_ledger (seq BIGSERIAL PRIMARY KEY, item_id INTEGER NOT NULL, owner TEXT NOT NULL)',
  )
  await db.query('INSERT INTO mp_items (id) SELECT generate_series(1, $1)', [ITEMS])
})

afterEach(async () => {
  if (skip) return
  for (const runner of runners.splice(0)) {
    if (runner.child.exitCode === null && runner.child.signalCode === null) {
      runner.child.kill('SIGKILL')
      await new Promise((resolve) => runner.child.once('exit', resolve))
    }
  }
  await db.end()
  await database.drop()
})

/** Starts a homeserver process named `owner` and resolves once its runner has started. */
async function startRunner(owner: string, batchDelayMs = 20): Promise<Runner> {
  const settings = {
    owner,
    connectionString: connectionStringFor(database.name),
    leaseDurationMs: LEASE_MS,
    pollIntervalMs: POLL_MS,
    batchDelayMs,
    pageSize: 5,
  }
  const child = fork(SCRIPT, [JSON.stringify(settings)], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  })
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>()
  const logs: string[] = []
  const details: string[] = []
  let next = 0
  child.stderr?.on('data', (chunk: Buffer) => details.push(`stderr: ${chunk.toString().trim()}`))
  child.on('exit', (code, signal) => details.push(`exited with code ${code}, signal ${signal}`))
  const ready = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${owner} exited with ${code} before ready`)))
    child.on('message', (message: Record<string, unknown>) => {
      if (message.ready) resolve()
      if (message.log) {
        const log = message.log as { level: string; message: string; details: string }
        logs.push(log.message)
        details.push(`${new Date().toISOString()} ${log.level} ${log.message} ${log.details}`)
      }
      const waiter = pending.get(message.id as number)
      if (!waiter) return
      pending.delete(message.id as number)
      if (message.error) waiter.reject(new Error(String(message.error)))
      else waiter.resolve(message.result)
    })
  })
  const runner: Runner = {
    owner,
    child,
    logs,
    details,
    call(command, argument) {
      const id = next++
      child.send({ id, command, argument })
      return new Promise((resolve, reject) => pending.set(id, { resolve, reject }))
    },
  }
  runners.push(runner)
  await ready

  return runner
}

function admin(runner: Runner, method: string, path: string, body?: unknown) {
  return runner.call('admin', { method, path, body }) as Promise<AdminAnswer>
}

async function scalar(sql: string): Promise<unknown> {
  const result = await db.query(sql)
  return Object.values(result.rows[0] ?? {})[0]
}

/** The owner of the unexpired lease, or null. */
async function holder(): Promise<string | null> {
  const result = await db.query(
    'SELECT owner FROM background_update_lease WHERE owner IS NOT NULL AND expires_ts > $1',
    [Date.now()],
  )
  return (result.rows[0]?.owner as string | undefined) ?? null
}

async function waitFor<T>(
  what: string | (() => string),
  deadlineMs: number,
  probe: () => Promise<T | null | false>,
): Promise<T> {
  const until = Date.now() + deadlineMs
  for (;;) {
    const value = await probe()
    if (value) return value
    if (Date.now() > until)
      throw new Error(`Timed out waiting for ${typeof what === 'string' ? what : what()}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

const recorded = async () => Number(await scalar('SELECT COUNT(*) FROM mp_ledger'))
const queueEmpty = async () => Number(await scalar('SELECT COUNT(*) FROM background_updates')) === 0

/** Every item recorded exactly once, and who recorded them. */
async function ledger(): Promise<{ total: number; distinct: number; owners: string[] }> {
  const result = await db.query(
    'SELECT COUNT(*) AS total, COUNT(DISTINCT item_id) AS distinct, array_agg(DISTINCT owner ORDER BY owner) AS owners FROM mp_ledger',
  )
  const row = result.rows[0]
  return { total: Number(row.total), distinct: Number(row.distinct), owners: row.owners ?? [] }
}

async function startJobThrough(runner: Runner): Promise<void> {
  const answer = await admin(runner, 'POST', 'start_job', { job_name: 'mark_items' })
  expect(answer.status).toBe(200)
}

/** Starts `owners` in order, the first alone until it holds the lease. */
async function firstHolder(owners: readonly string[], batchDelayMs = 20): Promise<Runner[]> {
  const [first, ...others] = owners as [string, ...string[]]
  const started = [await startRunner(first, batchDelayMs)]
  await waitFor(`${first} to hold the lease`, TAKEOVER_DEADLINE_MS, async () =>
    (await holder()) === first ? true : null,
  )
  for (const owner of others) started.push(await startRunner(owner, batchDelayMs))

  return started
}

describe.skipIf(skip)('one runner per PostgreSQL database across processes', () => {
  it('runs a job started through the process without the lease on the holder, exactly once', async () => {
    const [a, b] = (await firstHolder(['a', 'b'])) as [Runner, Runner]

    await startJobThrough(b)
    await waitFor('the job to finish', DONE_DEADLINE_MS, queueEmpty)

    expect(await ledger()).toEqual({ total: ITEMS, distinct: ITEMS, owners: ['a'] })
    expect(await holder()).toBe('a')
    expect(a.logs).not.toContain('Lost the lease')
  })

  it('pauses, reports and resumes the holder through a process that does not hold the lease', async () => {
    // Slower batches, so the job is still running when the pause arrives.
    const [a, b] = (await firstHolder(['a', 'b'], 60)) as [Runner, Runner]
    await startJobThrough(b)
    await waitFor('some batches', DONE_DEADLINE_MS, async () => (await recorded()) >= 20)

    const paused = await admin(b, 'POST', 'enabled', { enabled: false })
    const disabled = await waitFor('the holder to stop', DONE_DEADLINE_MS, async () => {
      const status = (await a.call('status')) as { state: string }
      return status.state === 'disabled' ? status : null
    })
    const count = await recorded()
    await new Promise((resolve) => setTimeout(resolve, 5 * 60 + POLL_MS))
    const seenByB = (await b.call('status')) as Record<string, unknown>
    const answered = await admin(b, 'GET', 'status')

    expect(paused).toEqual({ status: 200, body: { enabled: false } })
    expect(disabled.state).toBe('disabled')
    expect(await recorded()).toBe(count)
    expect(seenByB.state).toBe('disabled')
    expect((seenByB.current_update as { name?: string } | null)?.name).toBe('mark_items')
    expect((seenByB.current_update as { total_item_count: number }).total_item_count > 0).toBe(true)
    expect(answered.body.enabled).toBe(false)

    expect(await admin(b, 'POST', 'enabled', { enabled: true })).toEqual({
      status: 200,
      body: { enabled: true },
    })
    await waitFor('the job to finish', DONE_DEADLINE_MS, queueEmpty)
    expect(await ledger()).toEqual({ total: ITEMS, distinct: ITEMS, owners: ['a'] })
  })

  it('takes over from a holder killed with SIGKILL mid-job and commits no batch twice', async () => {
    const [a, , c] = (await firstHolder(['a', 'b', 'c'])) as [Runner, Runner, Runner]
    await startJobThrough(c)
    await waitFor('a quarter of the items', DONE_DEADLINE_MS, async () =>
      (await recorded()) >= ITEMS / 4 ? true : null,
    )

    a.child.kill('SIGKILL')
    const killedAt = Date.now()
    const successor = await waitFor('a takeover', TAKEOVER_DEADLINE_MS, async () => {
      const owner = await holder()
      return owner !== null && owner !== 'a' ? owner : null
    })
    const takeoverMs = Date.now() - killedAt
    await waitFor('the job to finish', DONE_DEADLINE_MS, queueEmpty)
    const result = await ledger()

    console.info(`takeover after SIGKILL: ${takeoverMs} ms (lease ${LEASE_MS} ms)`)
    expect(['b', 'c']).toContain(successor)
    expect(result.total).toBe(ITEMS)
    expect(result.distinct).toBe(ITEMS)
    expect(result.owners).toContain('a')
    expect(result.owners).toContain(successor)
  })

  it('refuses every commit of a holder frozen past its lease once it wakes', async () => {
    const [a, b] = (await firstHolder(['a', 'b'])) as [Runner, Runner]
    await startJobThrough(b)
    await waitFor('some batches', DONE_DEADLINE_MS, async () => (await recorded()) >= 20)

    a.child.kill('SIGSTOP')
    await waitFor('b to take over', TAKEOVER_DEADLINE_MS, async () =>
      (await holder()) === 'b' ? true : null,
    )
    await waitFor(
      'b to commit',
      DONE_DEADLINE_MS,
      async () => Number(await scalar("SELECT COUNT(*) FROM mp_ledger WHERE owner = 'b'")) > 0,
    )
    a.child.kill('SIGCONT')
    await waitFor('the job to finish', DONE_DEADLINE_MS, queueEmpty)
    await waitFor(
      () => `a to notice; a logged:\n${a.details.join('\n')}`,
      TAKEOVER_DEADLINE_MS,
      async () => a.logs.includes('Lost the lease'),
    )
    const lastOfA = Number(await scalar("SELECT MAX(seq) FROM mp_ledger WHERE owner = 'a'"))
    const firstOfB = Number(await scalar("SELECT MIN(seq) FROM mp_ledger WHERE owner = 'b'"))

    expect(lastOfA < firstOfB).toBe(true)
    expect(await ledger()).toEqual({ total: ITEMS, distinct: ITEMS, owners: ['a', 'b'] })
  })

  it('migrates once when three processes start at once', async () => {
    await Promise.all(['a', 'b', 'c'].map((owner) => startRunner(owner)))

    expect(await scalar('SELECT version FROM background_updates_schema_version')).toBe(1)
    expect(Number(await scalar('SELECT COUNT(*) FROM background_update_lease'))).toBe(1)
  })
})
