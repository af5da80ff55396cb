import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type AdminServer, startAdminServer, TOKEN } from './admin-server.js'
import { jsonLines, runCli } from './run-cli.js'

let server: AdminServer

beforeEach(async () => {
  server = await startAdminServer()
})

afterEach(async () => {
  await server.close()
})

/** Runs a command against the test server, with the URL and token in the environment. */
function cli(...args: string[]) {
  return runCli(args, { MATRIX_ADMIN_URL: server.url, MATRIX_ADMIN_TOKEN: TOKEN })
}

describe('matrix-bgupdates against a running admin API', () => {
  it('shows the status as text, and as the server answered it with --json', async () => {
    const text = await cli('status')
    const json = await cli('status', '--json')

    expect(text.code).toBe(0)
    expect(text.stdout).toContain('Background updates are enabled.')
    expect(text.stdout).toContain('master: idle')
    expect(json.code).toBe(0)
    expect(JSON.parse(json.stdout)).toMatchObject({ enabled: true, current_updates: {} })
  })

  it('takes the URL and token from flags as well', async () => {
    const result = await runCli(['status', '--json', '--url', server.url, '--token', TOKEN])

    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout).enabled).toBe(true)
  })

  it('disables and enables background updates on the server', async () => {
    const disabled = await cli('disable')
    const whileDisabled = await server.runner.isEnabled()
    const enabled = await cli('enable', '--json')

    expect(disabled.code).toBe(0)
    expect(disabled.stdout).toBe('Background updates are disabled.\n')
    expect(whileDisabled).toBe(false)
    expect(JSON.parse(enabled.stdout)).toEqual({ enabled: true })
    expect(await server.runner.isEnabled()).toBe(true)
  })

  it('starts a job, which the server runs to its end', async () => {
    await cli('disable')
    const result = await cli('start-job', 'count_up')
    const queued = (await server.runner.status()).pending_updates
    await cli('enable')
    await server.runner.whenCompleted('count_up')

    expect(result.code).toBe(0)
    expect(result.stdout).toBe('Queued count_up.\n')
    expect(queued).toEqual(['count_up'])
  })

  it('passes --old-key and --before-ts to event_resign, whose validator answers', async () => {
    const oldKey = 'ed25519:new AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
    const refused = await cli('start-job', 'event_resign', '--old-key', oldKey)
    const started = await cli(
      'start-job',
      'event_resign',
      '--before-ts',
      '2026-01-01T00:00:00Z',
      '--json',
    )

    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(
      /^matrix-bgupdates: the server answered 400 \(M_INVALID_PARAM: .+\)\n$/,
    )
    expect(started.code).toBe(0)
    expect(JSON.parse(started.stdout)).toEqual({
      started: 'event_resign',
      before_ts: 1767225600000,
    })
  })

  it("fails with exit code 1 and the server's reason for an unknown job or a bad token", async () => {
    const unknown = await cli('start-job', 'no_such_job')
    const badToken = await runCli(['status', '--url', server.url, '--token', 'wrong'])

    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toBe(
      'matrix-bgupdates: the server answered 400 (M_UNKNOWN: Invalid job_name)\n',
    )
    expect(badToken.code).toBe(1)
    expect(badToken.stderr).toContain('401 (M_UNKNOWN_TOKEN')
  })

  it('watches until no update is pending, then exits 0', async () => {
    await cli('start-job', 'count_up')
    const result = await cli('watch', '--interval', '5')

    expect(result.code).toBe(0)
    expect(result.stdout).toBe('No background updates are pending.\n')
    expect(result.stderr).toBe('') // not a terminal: no progress drawn
    expect((await server.runner.status()).pending_updates).toEqual([])
  })

  it('prints every status it polls as a JSON line with watch --json', async () => {
    await cli('start-job', 'count_up')
    const result = await cli('watch', '--interval', '5', '--json')
    const lines = jsonLines(result.stdout)

    expect(result.code).toBe(0)
    expect(lines.length).toBeGreaterThan(0)
    expect(lines.at(-1)).toMatchObject({ enabled: true, current_updates: {} })
  })

  it('exits 1 from watch with the last error when a database aborted', async () => {
    const aborted = new Promise((resolve) => server.runner.once('runner:aborted', resolve))
    await cli('start-job', 'always_fails')
    await aborted
    const result = await cli('watch', '--interval', '5')

    expect(result.code).toBe(1)
    expect(result.stderr).toContain('the disk is on fire')
  })
})
