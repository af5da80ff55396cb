import { Worker } from 'node:worker_threads'
import { sodiumPath } from './sodium-binding.js'

/**
 * The worker's code. A chunk names its channel by id; the first chunk of a channel that a worker
 * gets also carries the channel's operation and key, which the worker keeps until told to forget
 * the channel. A chunk's buffer holds one record per request, end to end: the message's length
 * (4 bytes, little-endian), for verification the 64-byte signature, then the message. The worker
 * answers each chunk, in order, with a buffer it transfers back: 64 bytes of signature per
 * request, or 1 byte (1 when the signature verifies) per request.
 *
 * It loads its modules with import(), which works whether Node runs the code as CommonJS (the
 * default) or as an ES module (when the process was started with `--input-type=module`, a flag
 * that workers inherit).
 */
const WORKER_SOURCE = `
Promise.all([import('node:worker_threads'), import('node:module')]).then(([threads, nodeModule]) => {
  const { parentPort, workerData } = threads
  const sodium = nodeModule.createRequire(workerData.sodiumPath)(workerData.sodiumPath)
  const channels = new Map()
  parentPort.on('message', (chunk) => {
    if (chunk.forget !== undefined) {
      channels.delete(chunk.forget)
      return
    }
    if (chunk.key !== undefined) {
      channels.set(chunk.id, { sign: chunk.op === 'sign', key: chunk.key })
    }
    const { sign, key } = channels.get(chunk.id)
    const bytes = new Uint8Array(chunk.buffer)
    const out = new Uint8Array(sign ? 64 * chunk.count : chunk.count)
    let at = 0
    for (let i = 0; i < chunk.count; i++) {
      const length =
        (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0
      at += 4
      if (sign) {
        const message = bytes.subarray(at, at + length)
        sodium.crypto_sign_detached(out.subarray(64 * i, 64 * i + 64), message, key)
      } else {
        const signature = bytes.subarray(at, at + 64)
        at += 64
        const message = bytes.subarray(at, at + length)
        out[i] = sodium.crypto_sign_verify_detached(signature, message, key) ? 1 : 0
      }
      at += length
    }
    parentPort.postMessage(out, [out.buffer])
  })
})
`

type Operation = 'sign' | 'verify'

/** Settles one request: with its signature, or with whether its signature verifies. */
type Settle = (answer: unknown) => void

/**
 * Requests packed as the worker reads them (see WORKER_SOURCE), copied in when they are made, and
 * how to settle each. Once sent, the buffer belongs to the worker and only the settling is kept.
 */
interface Chunk {
  readonly op: Operation
  buffer: ArrayBuffer
  bytes: Uint8Array
  /** Bytes of `buffer` in use. */
  length: number
  readonly resolves: Settle[]
  readonly rejects: ((error: unknown) => void)[]
}

/** Requests for one key and one operation. */
interface Channel {
  readonly id: number
  readonly op: Operation
  readonly key: Uint8Array
  /** Which lanes' workers hold the key, by lane index; the finalizer reads it too. */
  readonly known: boolean[]
  /** The chunk being filled, sent when full or at the end of the macrotask. */
  open: Chunk | undefined
  /** The buffer size to start the next chunk with, from the last one's. */
  room: number
}

interface Lane {
  readonly worker: Worker
  /** Chunks sent and not answered yet, oldest first: the worker answers in order. */
  readonly chunks: Chunk[]
  /** Requests in those chunks. */
  load: number
}

/** What a finalizer needs to have the workers forget a channel's key. */
interface Forgotten {
  readonly id: number
  readonly known: boolean[]
}

/** Buffer sizes a chunk starts with, at least and at most; a chunk grows past it if it must. */
const MIN_ROOM = 1024
const MAX_ROOM = 1 << 20

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
 * Requests are copied into the buffer of their channel's open chunk when they are made. A chunk is
 * sent to the least busy worker when it is full, or else at the end of the macrotask that opened
 * it, so that requests made together travel together. Each worker gets a channel's key once.
 *
 * @internal
 */
export class SodiumWorkerPool {
  readonly #lanes: Lane[]
  readonly #chunkSize: number
  /** Channels with an open chunk. */
  readonly #open = new Set<Channel>()
  #flushScheduled = false
  #nextId = 0
  /** The chunk that {@link #enlist} adds the next request's settling to. */
  #filling: Chunk | undefined
  #failure: Error | undefined
  /** Set by close(): the workers stay referenced until they exit, so that close() is awaited. */
  #closing = false
  /** Has the workers forget the key of a channel that can take no more requests. */
  readonly #forgetter = new FinalizationRegistry<Forgotten>(({ id, known }) => {
    if (this.#failure !== undefined) return
    known.forEach((holds, index) => {
      if (holds) this.#lanes[index]?.worker.postMessage({ forget: id })
    })
  })

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
      return this.#request(channel, message, signature)
    }
  }

  /** Stops the workers; requests in flight reject, and so do later ones. */
  async close(): Promise<void> {
    this.#closing = true
    this.#fail(new Error('the signing workers were closed'))
    await Promise.all(
      this.#lanes.map((lane) => {
        lane.worker.ref()
        return lane.worker.terminate()
      }),
    )
  }

  #channel(op: Operation, key: Uint8Array): Channel {
    const channel: Channel = {
      id: this.#nextId++,
      op,
      key: key.slice(),
      known: this.#lanes.map(() => false),
      open: undefined,
      room: MIN_ROOM,
    }
    this.#forgetter.register(channel, { id: channel.id, known: channel.known })
    return channel
  }

  #startLane(workerData: object): Lane {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData })
    const lane: Lane = { worker, chunks: [], load: 0 }
    worker.on('message', (answers: Uint8Array) => this.#answer(lane, answers))
    worker.on('error', (error) => this.#fail(error))
    worker.on('exit', () => this.#fail(new Error('a signing worker stopped')))
    // After the 'message' listener, whose adding references the worker's port again.
    worker.unref()
    return lane
  }

  #request<T>(
    channel: Channel,
    message: Uint8Array,
    signature: Uint8Array | undefined,
  ): Promise<T> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure)
    const chunk = channel.open ?? this.#openChunk(channel)
    // The copy: the caller may reuse its buffers as soon as this returns.
    try {
      const start = chunk.length
      const head = signature === undefined ? 4 : 68
      const end = start + head + message.length
      if (end > chunk.bytes.length) this.#grow(chunk, end)
      const { bytes } = chunk
      const length = message.length
      bytes[start] = length
      bytes[start + 1] = length >>> 8
      bytes[start + 2] = length >>> 16
      bytes[start + 3] = length >>> 24
      if (signature !== undefined) bytes.set(signature, start + 4)
      bytes.set(message, start + head)
      chunk.length = end
    } catch (error) {
      return Promise.reject(error)
    }
    this.#filling = chunk
    const answer = new Promise<T>(this.#enlist)
    this.#filling = undefined
    if (chunk.resolves.length >= this.#chunkSize) this.#send(channel, chunk)
    return answer
  }

  /** The executor of every request's promise: one function for all, rather than a closure each. */
  readonly #enlist = (resolve: (answer: never) => void, reject: (error: unknown) => void): void => {
    this.#filling?.resolves.push(resolve as Settle)
    this.#filling?.rejects.push(reject)
  }

  #openChunk(channel: Channel): Chunk {
    const buffer = new ArrayBuffer(channel.room)
    const chunk: Chunk = {
      op: channel.op,
      buffer,
      bytes: new Uint8Array(buffer),
      length: 0,
      resolves: [],
      rejects: [],
    }
    channel.open = chunk
    this.#open.add(channel)
    if (!this.#flushScheduled) {
      this.#flushScheduled = true
      setImmediate(this.#flushAll)
    }
    return chunk
  }

  /** Moves a chunk to a buffer of at least `size` bytes, twice its size if that is more. */
  #grow(chunk: Chunk, size: number): void {
    const buffer = new ArrayBuffer(Math.max(size, 2 * chunk.bytes.length))
    const bytes = new Uint8Array(buffer)
    bytes.set(chunk.bytes.subarray(0, chunk.length))
    chunk.buffer = buffer
    chunk.bytes = bytes
  }

  /** Sends every open chunk: the requests of the macrotask that opened them are all in. */
  readonly #flushAll = (): void => {
    this.#flushScheduled = false
    for (const channel of this.#open) {
      if (channel.open !== undefined) this.#send(channel, channel.open)
    }
  }

  /** Sends a channel's open chunk to the least busy worker. */
  #send(channel: Channel, chunk: Chunk): void {
    channel.open = undefined
    this.#open.delete(channel)
    const count = chunk.resolves.length
    // A chunk whose only request could not be copied: nothing to send.
    if (count === 0) return
    // Room for a full chunk of requests the size of these, and an eighth more.
    const projected = Math.ceil((chunk.length / count) * this.#chunkSize * 1.125)
    channel.room = Math.min(MAX_ROOM, Math.max(MIN_ROOM, projected))

    let index = 0
    this.#lanes.forEach((lane, i) => {
      if (lane.load < (this.#lanes[index] as Lane).load) index = i
    })
    const lane = this.#lanes[index] as Lane
    if (lane.chunks.length === 0) lane.worker.ref()
    lane.chunks.push(chunk)
    lane.load += count

    const { id, op, key } = channel
    const { buffer } = chunk
    if (channel.known[index] === true) {
      lane.worker.postMessage({ id, count, buffer }, [buffer])
    } else {
      channel.known[index] = true
      lane.worker.postMessage({ id, count, buffer, op, key }, [buffer])
    }
  }

  #answer(lane: Lane, answers: Uint8Array): void {
    const chunk = lane.chunks.shift()
    if (lane.chunks.length === 0 && !this.#closing) lane.worker.unref()
    if (chunk === undefined) return

    const { resolves } = chunk
    lane.load -= resolves.length
    // The answers are ours once transferred: each request gets a view of its part.
    const sign = chunk.op === 'sign'
    for (let i = 0; i < resolves.length; i++) {
      const resolve = resolves[i] as Settle
      resolve(sign ? answers.subarray(64 * i, 64 * i + 64) : answers[i] === 1)
    }
  }

  /** Rejects everything queued or in flight, and every later request. */
  #fail(error: Error): void {
    this.#failure ??= error
    const pending: Chunk[] = []
    for (const channel of this.#open) {
      if (channel.open !== undefined) pending.push(channel.open)
      channel.open = undefined
    }
    this.#open.clear()
    for (const lane of this.#lanes) {
      pending.push(...lane.chunks.splice(0))
      lane.load = 0
      if (!this.#closing) lane.worker.unref()
    }
    for (const chunk of pending) {
      for (const reject of chunk.rejects) reject(this.#failure)
    }
  }
}
