import { availableParallelism } from 'node:os'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import type {
  OffloadedKeys,
  OffloadedOutcome,
  OffloadedVerifyKey,
  ResignOffload,
  ResignOffloadRequest,
  ResignSigningRequest,
  StoredEvent,
  StoredEventText,
} from 'matrix-background-updates'
import { loadSodium } from '../sodium/sodium-binding.js'

/** Which Ed25519 implementation the workers sign and verify with. */
export type ResignWorkerSigner = 'auto' | 'sodium' | 'node'

/** How to build {@link resignWorkers}. */
export interface ResignWorkersOptions {
  /**
   * Worker threads (default: the cores `os.availableParallelism()` reports, less one for the event
   * loop, and at least 1). On a live server, one; in a maintenance window, the cores you can spare.
   */
  threads?: number
  /** Events per message to a worker (default 64); a batch is spread over every thread. */
  chunkSize?: number
  /**
   * `'sodium'`: libsodium through sodium-native (an optional peer dependency; about twice as fast
   * as node:crypto); `'node'`: node:crypto; `'auto'` (default): sodium-native when it loads.
   */
  signer?: ResignWorkerSigner
  /**
   * Events of a chunk in flight at once inside a worker (default 16). It matters only with
   * `signer: 'node'`, whose signatures are made on libuv's thread pool.
   */
  concurrency?: number
  /**
   * Whether the calling thread decides chunks of each batch too, whenever the workers have two
   * chunks each (default false: the event loop stays free, the right choice on a live server). In
   * a maintenance window, with `threads` one less than the cores, it puts the event loop's core to
   * work as well. See docs/performance.md.
   */
  callerHelps?: boolean
  /**
   * Where the workers' module is: a URL, or a file path (a relative one resolves against the
   * working directory). By default the `resign-worker.js` built beside this module in the
   * package's dist/, which is right unless the host bundles this package: then copy that file with
   * the bundle and give its location here.
   */
  workerModule?: string | URL
}

/** Batches decided and signed on worker threads; close it when done. */
export interface ResignWorkers extends ResignOffload {
  /** The number of worker threads. */
  readonly threads: number
  /** The Ed25519 implementation the workers use. */
  readonly signer: 'sodium' | 'node'
  /** Signs with the current key on the worker threads; see {@link ResignOffload.signBatch}. */
  signBatch(request: ResignSigningRequest): Promise<Uint8Array[]>
  /** Set when the calling thread decides chunks of each batch too (see the option). */
  readonly callerHelps: { readonly chunkSize: number; readonly inFlight: number } | undefined
  /** Stops the workers; batches in flight reject, and so do later ones. */
  close(): Promise<void>
}

/** The keys a worker decides with, sent with the first request of a context to each worker. */
export interface WorkerContext {
  readonly serverName: string
  readonly current: { readonly version: string; readonly seed: Uint8Array }
  readonly old: readonly OffloadedVerifyKey[]
  readonly oldKey: OffloadedVerifyKey | undefined
  readonly concurrency: number
}

/** One chunk sent to a worker. @internal */
export type WorkerRequest = {
  readonly id: number
  readonly contextId: number
  readonly context?: WorkerContext | undefined
} & (
  | { readonly kind: 'events'; readonly items: readonly StoredEvent[] }
  | { readonly kind: 'texts'; readonly items: readonly StoredEventText[] }
  | {
      readonly kind: 'sign'
      /** The messages end to end, each after its length (4 bytes, little-endian); transferred. */
      readonly buffer: ArrayBuffer
      readonly count: number
    }
)

/** What a request carries besides its id and keys. */
type WorkerRequestBody = DistributiveOmit<WorkerRequest, 'id' | 'contextId' | 'context'>

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never

/** A worker's answer to one chunk: outcomes, or for `sign` 64 bytes per message (transferred). @internal */
export type WorkerAnswer =
  | {
      readonly id: number
      readonly outcomes: OffloadedOutcome[] | ArrayBuffer
      readonly error?: undefined
    }
  | { readonly id: number; readonly error: { readonly name: string; readonly message: string } }

type Answer = ReadonlyArray<OffloadedOutcome | undefined>

/** Messages packed for a `sign` request, each after its length in 4 bytes (little-endian). */
function packMessages(messages: readonly Uint8Array[]): ArrayBuffer {
  let size = 0
  for (const message of messages) size += 4 + message.length
  const bytes = new Uint8Array(size)
  const view = new DataView(bytes.buffer)
  let at = 0
  for (const message of messages) {
    view.setUint32(at, message.length, true)
    bytes.set(message, at + 4)
    at += 4 + message.length
  }
  return bytes.buffer
}

interface Pending {
  readonly resolve: (outcomes: Answer | ArrayBuffer) => void
  readonly reject: (error: unknown) => void
}

/** One worker thread and what it was sent. */
interface Lane {
  worker: Worker | undefined
  /** The context whose keys the worker holds last. */
  contextId: number
  readonly pending: Map<number, Pending>
}

const DEFAULT_CHUNK_SIZE = 64
const DEFAULT_CONCURRENCY = 16

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  const chosen = value ?? fallback
  if (!Number.isSafeInteger(chosen) || chosen < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${String(value)}`)
  }
  return chosen
}

function chooseSigner(signer: ResignWorkerSigner | undefined): 'sodium' | 'node' {
  const chosen = signer ?? 'auto'
  if (chosen === 'node') return 'node'
  if (chosen === 'sodium') {
    loadSodium()
    return 'sodium'
  }
  if (chosen !== 'auto') {
    throw new TypeError(`signer must be 'auto', 'sodium' or 'node', got ${String(signer)}`)
  }
  try {
    loadSodium()
    return 'sodium'
  } catch {
    return 'node'
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, index) => byte === b[index])
}

function sameVerifyKey(a: OffloadedVerifyKey | undefined, b: OffloadedVerifyKey | undefined) {
  if (a === undefined || b === undefined) return a === b
  return a.version === b.version && sameBytes(a.bytes, b.bytes)
}

function sameContext(a: WorkerContext, serverName: string, keys: OffloadedKeys): boolean {
  return (
    a.serverName === serverName &&
    a.current.version === keys.current.version &&
    sameBytes(a.current.seed, keys.current.seed) &&
    a.old.length === keys.old.length &&
    a.old.every((key, index) => sameVerifyKey(key, keys.old[index])) &&
    sameVerifyKey(a.oldKey, keys.oldKey)
  )
}

/**
 * Starts a worker on `module`. A worker inherits the process's Node flags, and Node refuses
 * `--input-type` (which only applies to code given with `--eval` or on stdin) to a file worker:
 * then it gets the other flags, or none if Node refuses one of those for a worker too.
 */
function startWorker(module: URL, signer: 'sodium' | 'node'): Worker {
  const workerData = { signer }
  const flags = process.execArgv
  if (!flags.some((flag) => flag === '--input-type' || flag.startsWith('--input-type='))) {
    return new Worker(module, { workerData })
  }
  const kept = flags.filter((flag, index) => {
    if (flag.startsWith('--input-type')) return false
    return flags[index - 1] !== '--input-type'
  })
  try {
    return new Worker(module, { workerData, execArgv: kept })
  } catch (error) {
    if ((error as { code?: unknown })?.code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw error
    return new Worker(module, { workerData, execArgv: [] })
  }
}

/** The worker module as a URL: given as a URL, a URL string or a file path, or the built one. */
function moduleUrl(given: string | URL | undefined): URL {
  if (given === undefined) return new URL('./resign-worker.js', import.meta.url)
  if (given instanceof URL) return given
  if (typeof given !== 'string' || given === '') {
    throw new TypeError('workerModule must be a URL or a file path')
  }
  const isUrl = /^[a-z][a-z0-9+.-]+:/i.test(given) // two letters at least: `C:\` is a path
  return isUrl ? new URL(given) : pathToFileURL(given)
}

function isDataCloneError(error: unknown): boolean {
  return error instanceof Error && error.name === 'DataCloneError'
}

/**
 * Decides and re-signs batches of `event_resign` on worker threads: for stored texts (the job's
 * `resignTexts`), the whole pipeline (parsing the stored text, the malformation checks, the safety
 * rule, canonical JSON, hashes, the signature and the new text) runs there, and the event loop only
 * hands texts over and takes texts back. For parsed events (`EventResigner.resign` without an
 * `old_key`), cloning whole events to a thread costs more than deciding them, so the calling
 * thread decides them and the workers only sign (`signBatch`). Give it to `eventResignJob` (or
 * `EventResigner`) as `offload`. Outcomes are exactly those of the calling thread; each worker
 * holds a copy of the current key's seed.
 *
 * Idle workers do not keep the process alive; a worker that dies fails its batches (the runner
 * retries them) and is replaced by the next batch. Call `close()` when done.
 *
 * @throws {RangeError} for `threads`, `chunkSize` or `concurrency` that is not a positive integer.
 * @throws {TypeError} for an unknown `signer`, a `callerHelps` that is not a boolean or a
 *   `workerModule` that is neither a URL nor a file path.
 * @throws {Error} for `signer: 'sodium'` when sodium-native is not installed.
 * @example
 * const workers = resignWorkers({ threads: 2 })
 * runner.registerJob(eventResignJob({ serverName, keyProvider, offload: workers }))
 * // … when the job is done:
 * await workers.close()
 */
export function resignWorkers(options: ResignWorkersOptions = {}): ResignWorkers {
  return new ResignWorkerPool(options ?? {})
}

class ResignWorkerPool implements ResignWorkers {
  readonly threads: number
  readonly signer: 'sodium' | 'node'
  readonly callerHelps: { readonly chunkSize: number; readonly inFlight: number } | undefined
  readonly #chunkSize: number
  readonly #concurrency: number
  readonly #module: URL
  readonly #lanes: Lane[]
  #context: { readonly id: number; readonly value: WorkerContext } | undefined
  #nextId = 1
  #nextLane = 0
  #closed = false

  constructor(options: ResignWorkersOptions) {
    const cores = Math.max(1, availableParallelism() - 1)
    this.threads = positiveInteger(options.threads, cores, 'threads')
    this.#chunkSize = positiveInteger(options.chunkSize, DEFAULT_CHUNK_SIZE, 'chunkSize')
    this.#concurrency = positiveInteger(options.concurrency, DEFAULT_CONCURRENCY, 'concurrency')
    this.signer = chooseSigner(options.signer)
    const helps = options.callerHelps ?? false
    if (typeof helps !== 'boolean') {
      throw new TypeError(`callerHelps must be a boolean, got ${String(options.callerHelps)}`)
    }
    // Two chunks per worker: one it works on, one waiting, while the caller decides its own.
    this.callerHelps = helps
      ? { chunkSize: this.#chunkSize, inFlight: 2 * this.threads }
      : undefined
    this.#module = moduleUrl(options.workerModule)
    this.#lanes = Array.from({ length: this.threads }, () => ({
      worker: undefined,
      contextId: 0,
      pending: new Map(),
    }))
  }

  async resignBatch(request: ResignOffloadRequest): Promise<Answer> {
    if (this.#closed) throw new Error('the resign workers are closed')
    const items: readonly (StoredEvent | StoredEventText)[] =
      request.kind === 'events' ? request.events : request.texts
    if (items.length === 0) return []

    const contextId = this.#contextId(request.serverName, request.keys)
    return this.#spread(items, (lane, part) => this.#send(lane, contextId, request.kind, part))
  }

  /**
   * Signs with the current key on the worker threads: the messages are packed into one buffer per
   * chunk (the only copy), and the signatures come back in one buffer per chunk.
   */
  async signBatch(request: ResignSigningRequest): Promise<Uint8Array[]> {
    if (this.#closed) throw new Error('the resign workers are closed')
    const { messages } = request
    if (messages.length === 0) return []

    const contextId = this.#contextId(request.serverName, request.keys)
    return this.#spread(messages, async (lane, part) => {
      const buffer = packMessages(part)
      const body = { kind: 'sign', buffer, count: part.length } as const
      const answer = await this.#post(lane, contextId, body, [buffer])
      if (!(answer instanceof ArrayBuffer) || answer.byteLength !== 64 * part.length) {
        throw new Error('a resign worker answered no signature for each message')
      }
      const all = new Uint8Array(answer)
      return part.map((_, index) => all.subarray(64 * index, 64 * index + 64))
    })
  }

  /**
   * Splits `items` into chunks spread over every thread (at most `chunkSize` each), the lanes taken
   * in turn, and joins what `send` answers for each chunk in order.
   */
  async #spread<I, R>(
    items: readonly I[],
    send: (lane: Lane, part: readonly I[]) => Promise<readonly R[]>,
  ): Promise<R[]> {
    const size = Math.min(this.#chunkSize, Math.ceil(items.length / this.threads))
    const chunks: Promise<readonly R[]>[] = []
    for (let start = 0; start < items.length; start += size) {
      const lane = this.#lanes[this.#nextLane] as Lane
      this.#nextLane = (this.#nextLane + 1) % this.#lanes.length
      chunks.push(send(lane, items.slice(start, start + size)))
    }
    return (await Promise.all(chunks)).flat()
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#context?.value.current.seed.fill(0)
    const closing = new Error('the resign workers are closed')
    await Promise.all(this.#lanes.map((lane) => this.#stop(lane, closing)))
  }

  /** The id of the request's keys: the last one's when they are the same keys. */
  #contextId(serverName: string, keys: OffloadedKeys): number {
    if (this.#context !== undefined && sameContext(this.#context.value, serverName, keys)) {
      return this.#context.id
    }
    const value: WorkerContext = {
      serverName,
      current: { version: keys.current.version, seed: keys.current.seed.slice() },
      old: keys.old.map((key) => ({ version: key.version, bytes: key.bytes.slice() })),
      oldKey:
        keys.oldKey === undefined
          ? undefined
          : { version: keys.oldKey.version, bytes: keys.oldKey.bytes.slice() },
      concurrency: this.#concurrency,
    }
    this.#context?.value.current.seed.fill(0)
    this.#context = { id: this.#nextId++, value }
    return this.#context.id
  }

  async #send(
    lane: Lane,
    contextId: number,
    kind: 'events' | 'texts',
    items: readonly (StoredEvent | StoredEventText)[],
  ): Promise<Answer> {
    try {
      const answer = await this.#post(lane, contextId, { kind, items } as WorkerRequestBody)
      if (!Array.isArray(answer)) throw new Error('a resign worker answered no outcomes')
      return answer
    } catch (error) {
      // An event that cannot cross to a thread (a function inside it, say) is decided by the
      // caller instead; nothing of this chunk reached the worker.
      if (isDataCloneError(error)) return new Array(items.length).fill(undefined)
      throw error
    }
  }

  /** Sends one request to a lane's worker; a DataCloneError rejects at once, before it is sent. */
  #post(
    lane: Lane,
    contextId: number,
    body: WorkerRequestBody,
    transfer: ArrayBuffer[] = [],
  ): Promise<Answer | ArrayBuffer> {
    const worker = this.#workerOf(lane)
    const id = this.#nextId++
    const context = lane.contextId === contextId ? undefined : this.#context?.value
    const request = { id, contextId, context, ...body } as WorkerRequest

    return new Promise<Answer | ArrayBuffer>((resolve, reject) => {
      try {
        worker.postMessage(request, transfer)
      } catch (error) {
        reject(error)
        return
      }
      if (context !== undefined) lane.contextId = contextId
      if (lane.pending.size === 0) worker.ref()
      lane.pending.set(id, { resolve, reject })
    })
  }

  #workerOf(lane: Lane): Worker {
    if (lane.worker !== undefined) return lane.worker
    const worker = startWorker(this.#module, this.signer)
    worker.on('message', (answer: WorkerAnswer) => this.#settle(lane, answer))
    worker.on('error', (error) => this.#lose(lane, worker, error))
    worker.on('exit', (code) => {
      this.#lose(lane, worker, new Error(`a resign worker exited with code ${code}`))
    })
    // After the listeners, which would otherwise ref the worker again: an idle worker must not
    // keep the process alive (`#send` refs it while it has work).
    worker.unref()
    lane.worker = worker
    lane.contextId = 0
    return worker
  }

  #settle(lane: Lane, answer: WorkerAnswer): void {
    const pending = lane.pending.get(answer.id)
    if (pending === undefined) return
    lane.pending.delete(answer.id)
    if (lane.pending.size === 0) lane.worker?.unref()
    if (answer.error === undefined) {
      pending.resolve(answer.outcomes)
      return
    }
    const error = new Error(`a resign worker failed: ${answer.error.message}`)
    error.name = answer.error.name
    pending.reject(error)
  }

  /** A worker that failed or exited: its chunks reject, and the next chunk starts another. */
  #lose(lane: Lane, worker: Worker, error: unknown): void {
    if (lane.worker !== worker) return
    lane.worker = undefined
    void worker.terminate()
    this.#rejectAll(lane, error)
  }

  async #stop(lane: Lane, error: Error): Promise<void> {
    const worker = lane.worker
    lane.worker = undefined
    this.#rejectAll(lane, error)
    if (worker !== undefined) await worker.terminate()
  }

  #rejectAll(lane: Lane, error: unknown): void {
    const pending = [...lane.pending.values()]
    lane.pending.clear()
    for (const { reject } of pending) reject(error)
  }
}
