/**
 * A homeserver's admin API in the test process, on 127.0.0.1 and a free port, for the CLI's online
 * commands: one memory runner with a job of a few batches and one that always fails.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  BackgroundUpdateRunner,
  createAdminApi,
  eventResignJob,
  generateSigningKey,
  type JobDefinition,
  MemoryKeyProvider,
  MemoryStorageAdapter,
  UnknownTokenError,
} from 'matrix-background-updates'

/** The token the test server lets in. */
export const TOKEN = 'cli-test-admin-token'

/** A startable job of `batches` batches of ten items, each reporting how far it is. */
export function countingJob(batches: number): JobDefinition {
  return {
    name: 'count_up',
    startable: true,
    updates: [
      {
        name: 'count_up',
        initialProgress: () => ({ done: 0 }),
        async handler({ progress }) {
          const done = (progress.done as number) + 1
          const fractionDone = done / batches
          if (done >= batches) return { items: 10, done: true, outcomes: { counted: 10 } }
          return { items: 10, progress: { done }, outcomes: { counted: 10 }, fractionDone }
        },
      },
    ],
  }
}

/** A startable job whose every batch fails. */
export const failingJob: JobDefinition = {
  name: 'always_fails',
  startable: true,
  updates: [
    {
      name: 'always_fails',
      handler: async () => {
        throw new Error('the disk is on fire')
      },
    },
  ],
}

/** The running test server. */
export interface AdminServer {
  readonly url: string
  readonly runner: BackgroundUpdateRunner
  close(): Promise<void>
}

/** Starts the server; the runner runs batches with a short pause between them. */
export async function startAdminServer(batches = 5): Promise<AdminServer> {
  const storage = new MemoryStorageAdapter({ builtInCapabilities: true })
  const runner = new BackgroundUpdateRunner({ storage, sleepDurationMs: 10 })
  const keyProvider = new MemoryKeyProvider(generateSigningKey('new'))
  runner.registerJob(countingJob(batches))
  runner.registerJob(failingJob)
  runner.registerJob(eventResignJob({ serverName: 'cli.example', keyProvider }))

  const api = createAdminApi({
    runners: [runner],
    async authorize({ accessToken }) {
      if (accessToken !== TOKEN) throw new UnknownTokenError()
    },
  })
  const server: Server = createServer((req, res) => void api.node(req, res))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  runner.start()

  return {
    url: `http://127.0.0.1:${port}`,
    runner,
    async close() {
      await runner.stop()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}
