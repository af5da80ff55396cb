/**
 * The Python peer of the interop suites: Debian's python3-canonicaljson, python3-signedjson and
 * python3-nacl, the libraries Synapse signs with, run by `/usr/bin/python3` (the `python3` on PATH may
 * be another interpreter without them).
 *
 * Locally a suite skips with a visible notice when they are missing; under `CI=true` it fails, since
 * `.ci/run` installs them.
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process'
import { createInterface } from 'node:readline'
import { describeWhenAvailable } from '../describe-when-available.js'

/** The interpreter Debian's packages are installed for; `INTEROP_PYTHON` names another. */
export const PYTHON = process.env.INTEROP_PYTHON ?? '/usr/bin/python3'

const MODULES = ['canonicaljson', 'signedjson.key', 'signedjson.sign', 'nacl.signing']
const INSTALL = 'apt-get install -y python3-canonicaljson python3-signedjson python3-nacl'

function detect(): { available: boolean; reason?: string } {
  const probe = spawnSync(PYTHON, ['-c', `import ${MODULES.join(', ')}`], { encoding: 'utf8' })
  if (probe.error !== undefined) {
    return { available: false, reason: `${PYTHON} cannot be run (${probe.error.message})` }
  }
  if (probe.status !== 0) {
    const lastLine = probe.stderr.trim().split('\n').at(-1) ?? `exit status ${probe.status}`
    return {
      available: false,
      reason: `${PYTHON} cannot import ${MODULES.join(', ')}: ${lastLine}`,
    }
  }
  return { available: true }
}

/** Whether the Python peer can run here, and if not, why. Probed once per test file. */
export const pythonPeer: { available: boolean; reason?: string } = detect()

/**
 * `describe`, when the Python peer is available. Otherwise the suite is skipped with a notice on the
 * console, or, under `CI=true`, replaced by a failing test that gives the reason.
 */
export function describeWithPython(name: string, fn: () => void): void {
  const missing = pythonPeer.available
    ? undefined
    : `the Python peer is missing (${pythonPeer.reason}); install it with ${INSTALL}`
  describeWhenAvailable(name, missing, 'has the Python peer it compares against', fn)
}

/** Answers of the peer: one JSON object per request, `error` set when the request failed there. */
export type PeerAnswer = Record<string, unknown> & { error?: string }

/**
 * A long-lived Python process that reads one JSON request per line on stdin and writes one JSON answer
 * per line on stdout, in order. Requests may be sent many at a time; answers are matched by order.
 */
export class PythonPeer {
  readonly #child: ChildProcessWithoutNullStreams
  readonly #waiting: Array<{ resolve(answer: PeerAnswer): void; reject(error: Error): void }> = []
  #stderr = ''
  #exited: Error | undefined

  /** Starts `script` under {@link PYTHON}. */
  constructor(script: string) {
    this.#child = spawn(PYTHON, ['-u', script], { stdio: ['pipe', 'pipe', 'pipe'] })
    this.#child.stderr.setEncoding('utf8')
    this.#child.stderr.on('data', (chunk: string) => {
      this.#stderr += chunk
    })

    const lines = createInterface({ input: this.#child.stdout })
    lines.on('line', (line) => {
      const waiter = this.#waiting.shift()
      if (waiter === undefined) return
      try {
        waiter.resolve(JSON.parse(line) as PeerAnswer)
      } catch {
        waiter.reject(new Error(`the Python peer answered with other than JSON: ${line}`))
      }
    })
    this.#child.on('exit', (code) => {
      this.#exited = new Error(`the Python peer exited (${code}): ${this.#stderr.trim()}`)
      for (const waiter of this.#waiting.splice(0)) waiter.reject(this.#exited)
    })
  }

  /** Sends one request; resolves its answer. */
  request(op: string, args: Record<string, unknown> = {}): Promise<PeerAnswer> {
    if (this.#exited !== undefined) return Promise.reject(this.#exited)
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject })
      this.#child.stdin.write(`${JSON.stringify({ op, ...args })}\n`)
    })
  }

  /** Sends many requests at once and resolves their answers in the same order. */
  batch(requests: ReadonlyArray<{ op: string } & Record<string, unknown>>): Promise<PeerAnswer[]> {
    return Promise.all(requests.map(({ op, ...args }) => this.request(op, args)))
  }

  /** Closes stdin and waits for the process to end. */
  async close(): Promise<void> {
    if (this.#exited !== undefined) return
    const ended = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()))
    this.#child.stdin.end()
    await ended
  }
}
