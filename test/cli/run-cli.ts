/**
 * Runs the built `matrix-bgupdates` bin (dist/cli.js, which `npm test` builds first) as a child
 * process, as an operator would.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The built bin. */
export const BIN = fileURLToPath(new URL('../../dist/cli.js', import.meta.url))

/** How a run ended. */
export interface CliResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** A running child, its output so far, and its end. */
export interface CliProcess {
  readonly child: ChildProcess
  readonly result: Promise<CliResult>
  /** Resolves once stdout holds a line for which `test` is true. */
  stdoutLine(test: (line: string) => boolean): Promise<string>
}

/** The environment of the child: none of the operator's MATRIX_ADMIN_* variables leak in. */
function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const { MATRIX_ADMIN_URL: _url, MATRIX_ADMIN_TOKEN: _token, ...rest } = process.env
  return { ...rest, ...env }
}

/** Starts the bin with these arguments. */
export function startCli(args: readonly string[], env: Record<string, string> = {}): CliProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  const waiters: { test: (line: string) => boolean; resolve: (line: string) => void }[] = []
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
    for (const waiter of [...waiters]) {
      const line = stdout.split('\n').find((candidate) => waiter.test(candidate))
      if (line !== undefined) {
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.resolve(line)
      }
    }
  })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  const result = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
  const stdoutLine = (test: (line: string) => boolean) =>
    new Promise<string>((resolve, reject) => {
      waiters.push({ test, resolve })
      result.then(
        () => reject(new Error(`the CLI ended without such a line; stdout: ${stdout}`)),
        reject,
      )
    })
  return { child, result, stdoutLine }
}

/** Runs the bin to its end. */
export function runCli(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<CliResult> {
  return startCli(args, env).result
}

/** The lines of JSON a run printed on stdout. */
export function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>)
}

/** A temporary folder, and how to remove it. */
export async function temporaryFolder(): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'mbu-cli-test-'))
  return { path, remove: () => rm(path, { recursive: true, force: true }) }
}
