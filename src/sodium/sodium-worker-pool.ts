import { Worker } from 'node:worker_threads'
import { sodiumPath } from './sodium-binding.js'

/**
 * The worker, run as CommonJS code. Each message is a chunk for one key: signatures to make with
 * a 64-byte secret key, or signatures to check with a 32-byte public key. It answers in order.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const sodium = require(workerData.sodiumPath)
parentPort.on('message', ({ op, key, bytes, ends, signatures }) => {
  const out = new Uint8Array(op === 'sign' ? 64 * ends.length : ends.length)
  let start = 0
  for (let i = 0; i < ends.length; i++) {
    const message = bytes.subarray(start, ends[i])
    if (op === 'sign') {
      sodium.crypto_sign_detached(out.subarray(64 * i, 64 * i + 64), message, key)
    } else {
      const signature = signatures.subarray(64 * i, 64 * i + 64)
      out[i] = sodium.crypto_sign_verify_detached(signature, message, key) ? 1 : 0
    }
    start = ends[i]
  }
  parentPort.postMessage(out, [out.buffer])
})
`

/** One signature to make or to check, and how to answer it. */
interface Request {
  readonly message: Uint8Array
  readonly signature: Uint8Array | undefined
  resolve(answer: Uint8Array): void
  reject(error: unknown): void
}

/** Requests for one key and one operation, queued until they fill a chunk or the tick ends. */
interface Channel {
  readonly op: 'sign' | 'verify'
  readonly key: Uint8Array
  queue: Request[]
  flushScheduled: boolean
}

/** A chunk sent to a worker, answered in the order sent. */
interface Chunk {
  readonly op: 'sign' | 'verify'
  readonly requests: Request[]
}

interface Lane {
  readonly worker: Worker
  readonly chunks: Chunk[]
}

function positiveInteger(value: number | undefined, fallback: number, label: string): number {
  const chosen = value ?? fallback
  if (!Number.isSafeInteger(chosen) || chosen < 1) {
    throw new RangeError(`${label} must be a positive integer, got ${String(chosen)}`)
  }
  return chosen
}

/** How many worker threads, and how many requests go to a worker at once. */
export interface WorkerPoolOptions {
  /** Worker threads (default 1); each takes up to one core while it has work. */
  readonly threads?: number
  /** Signatures sent to a worker at once (default 32): fewer round trips, more latency. */
  readonly chunkSize?: number
}

/**
 * Worker threads running libsodium, shared by every key that uses them. Idle workers do not keep
 * the process alive.
 *
 * @internal
 */
export class SodiumWorkerPool {
  readonly #lanes: Lane[]
  readonly #chunkSize: number
  readonly #channels = new Set<Channel>()
  #failure: Error | undefined

  /** @throws {RangeError} for `threads` or `chunkSize` that is not a positive integer. */
  constructor(options: WorkerPoolOptions = {}) {
    const threads = positiveInteger(options.threads, 1, 'threads')
    this.#chunkSize = positiveInteger(options.chunkSize, 32, 'chunkSize')
    const workerData = { sodiumPath: sodiumPath() }
    this.#lanes = Array.from({ length: threads }, () => this.#startLane(workerData))
  }

  /** A signer for one 64-byte libsodium secret key. */
  signer(secretKey: Uint8Array): (message: Uint8Array) => Promise<Uint8Array> {
    const channel = this.#channel('sign', secretKey)
    return (message) => this.#request(channel, message, undefined)
  }

  /** A verifier for one 32-byte public key. */
  verifier(
    publicKey: Uint8Array,
  ): (message: Uint8Array, signature: Uint8Array) => Promise<boolean> {
    const channel = this.#channel('verify', publicKey)
    return async (message, signature) => {
      if (signature.length !== 64) return false
      return (await this.#request(channel, message, signature))[0] === 1
    }
  }

  /** Stops the workers; requests in flight reject, and so do later ones. */
  async close(): Promise<void> {
    this.#fail(new Error('the signing workers were closed'))
    await Promise.all(this.#lanes.map((lane) => lane.worker.terminate()))
  }

  #channel(op: 'sign' | 'verify', key: Uint8Array): Channel {
    const channel: Channel = { op, key: key.slice(), queue: [], flushScheduled: false }
    this.#channels.add(channel)
    return channel
  }

  #startLane(workerData: object): Lane {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData })
    const lane: Lane = { worker, chunks: [] }
    worker.unref()
    worker.on('message', (answers: Uint8Array) => this.#answer(lane, answers))
    worker.on('error', (error) => this.#fail(error))
    worker.on('exit', () => this.#fail(new Error('a signing worker stopped')))
    return lane
  }

  #request(
    channel: Channel,
    message: Uint8Array,
    signature: Uint8Array | undefined,
  ): Promise<Uint8Array> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure)
    return new Promise((resolve, reject) => {
      // Copies: the caller may reuse its buffers before the chunk is sent.
      channel.queue.push({
        message: message.slice(),
        signature: signature?.slice(),
        resolve,
        reject,
      })
      if (channel.queue.length >= this.#chunkSize) this.#flush(channel)
      else this.#scheduleFlush(channel)
    })
  }

  #scheduleFlush(channel: Channel): void {
    if (channel.flushScheduled) return
    channel.flushScheduled = true
    setImmediate(() => {
      channel.flushScheduled = false
      this.#flush(channel)
    })
  }

  /** Sends a channel's queue to the least busy workers, a chunk at a time. */
  #flush(channel: Channel): void {
    while (channel.queue.length > 0) {
      const requests = channel.queue.splice(0, this.#chunkSize)
      const lane = this.#lanes.reduce((a, b) => (b.chunks.length < a.chunks.length ? b : a))
      const packed = pack(requests)
      if (lane.chunks.length === 0) lane.worker.ref()
      lane.chunks.push({ op: channel.op, requests })
      lane.worker.postMessage({ op: channel.op, key: channel.key, ...packed }, [
        packed.bytes.buffer,
        packed.ends.buffer,
        packed.signatures.buffer,
      ])
    }
  }

  #answer(lane: Lane, answers: Uint8Array): void {
    const chunk = lane.chunks.shift()
    if (lane.chunks.length === 0) lane.worker.unref()
    if (chunk === undefined) return

    const width = chunk.op === 'sign' ? 64 : 1
    chunk.requests.forEach((request, index) => {
      request.resolve(answers.slice(width * index, width * index + width))
    })
  }

  /** Rejects everything queued or in flight, and every later request. */
  #fail(error: Error): void {
    this.#failure ??= error
    const pending: Request[] = []
    for (const channel of this.#channels) pending.push(...channel.queue.splice(0))
    for (const lane of this.#lanes) {
      for (const chunk of lane.chunks.splice(0)) pending.push(...chunk.requests)
      lane.worker.unref()
    }
    for (const request of pending) request.reject(this.#failure)
  }
}

/** A chunk's messages end to end, where each ends, and the signatures to check, if any. */
function pack(requests: readonly Request[]): {
  bytes: Uint8Array<ArrayBuffer>
  ends: Uint32Array<ArrayBuffer>
  signatures: Uint8Array<ArrayBuffer>
} {
  const ends = new Uint32Array(requests.length)
  let length = 0
  requests.forEach((request, index) => {
    length += request.message.length
    ends[index] = length
  })

  const bytes = new Uint8Array(length)
  const signatures = new Uint8Array(requests[0]?.signature === undefined ? 0 : 64 * requests.length)
  requests.forEach((request, index) => {
    bytes.set(request.message, index === 0 ? 0 : (ends[index - 1] as number))
    if (request.signature !== undefined) signatures.set(request.signature, 64 * index)
  })
  return { bytes, ends, signatures }
}
