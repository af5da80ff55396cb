import { describe, expect, it } from 'vitest'
import { commands } from '../../src/cli/cli.js'
import { runCli } from './run-cli.js'

/** A one-line error: one line on stderr, naming the tool, nothing on stdout. */
function expectOneLineError(result: { stdout: string; stderr: string }, text: string) {
  expect(result.stdout).toBe('')
  expect(result.stderr.trim().split('\n')).toHaveLength(1)
  expect(result.stderr).toMatch(/^matrix-bgupdates: /)
  expect(result.stderr).toContain(text)
}

describe('matrix-bgupdates help and usage errors', () => {
  it('lists every command with --help and exits 0', async () => {
    const result = await runCli(['--help'])

    expect(result.code).toBe(0)
    for (const command of commands) expect(result.stdout).toContain(`  ${command.name} `)
    expect(result.stdout).toContain('MATRIX_ADMIN_TOKEN')
  })

  it('prints the list on stderr and exits 2 when no command is given', async () => {
    const result = await runCli([])

    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr).toContain('Usage: matrix-bgupdates <command>')
  })

  it.each(commands.map((command) => command.name))('shows the help of %s', async (name) => {
    const result = await runCli([...name.split(' '), '--help'])

    expect(result.code).toBe(0)
    expect(result.stdout).toContain(`Usage: matrix-bgupdates ${name}`)
    expect(result.stdout).toContain('--json')
    expect(result.stderr).toBe('')
  })

  it.each([
    [['frobnicate'], "unknown command 'frobnicate'"],
    [['keys', 'rotate', 'x'], "keys takes 'generate <file>' or 'show <file>'"],
    [['status', '--colour'], "Unknown option '--colour'"],
    [['start-job'], 'start-job takes <name>'],
    [['status', 'extra'], 'status takes no arguments'],
    [['status'], 'status needs --url or $MATRIX_ADMIN_URL'],
    [['status', '--url', 'http://h'], 'status needs --token or $MATRIX_ADMIN_TOKEN'],
    [['status', '--url', 'ftp://h', '--token', 't'], '--url must be an http or https URL'],
    [['watch', '--url', 'http://h', '--token', 't', '--interval', '0'], '--interval must be'],
    [
      ['start-job', 'event_resign', '--url', 'http://h', '--token', 't', '--old-key', 'k'],
      '--old-key must be',
    ],
    [
      ['start-job', 'x', '--url', 'http://h', '--token', 't', '--before-ts', 'soon'],
      '--before-ts must be',
    ],
    [['resign', '--sqlite', 'db'], 'resign needs --key-file'],
    [
      ['resign', '--key-file', 'k', '--server-name', 's'],
      'exactly one of --sqlite <file> and --postgres <url>',
    ],
    [['cancel', 'event_resign'], 'exactly one of --sqlite <file> and --postgres <url>'],
    [['keys', 'generate', 'k', '--version', 'a-1'], '--version must match'],
  ])('refuses %j with a one-line error and exit code 2', async (args, text) => {
    const result = await runCli(args)

    expect(result.code).toBe(2)
    expectOneLineError(result, text)
  })

  it('reads the server from MATRIX_ADMIN_URL and MATRIX_ADMIN_TOKEN when no flag gives it', async () => {
    const env = { MATRIX_ADMIN_URL: 'http://127.0.0.1:1', MATRIX_ADMIN_TOKEN: 't' }
    const result = await runCli(['status'], env)

    expect(result.code).toBe(1)
    expectOneLineError(result, 'cannot reach http://127.0.0.1:1')
  })

  it('fails with exit code 1 and a one-line reason when PostgreSQL refuses, never showing the password', async () => {
    const args = ['cancel', 'x', '--postgres', 'postgres://u:secret@localhost/db']
    const result = await runCli(args)

    expect(result.code).toBe(1)
    expect(result.stderr).not.toContain('secret')
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toContain(
      'cannot read the database postgres postgres://u:***@localhost/db',
    )
  })
})
