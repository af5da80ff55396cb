/**
 * The module each thread of `resignWorkers()` runs (built as dist/resign-worker.js, with its own
 * copy of the pipeline): it decides and signs the chunks it is sent with an {@link EventResigner}
 * of its own, so that what a worker answers is exactly what the calling thread would have.
 *
 * A request names its keys by a context id; the first request of a context a worker gets carries
 * the keys themselves, which the worker keeps (the latest few) until the pool closes.
 *
 * @internal
 */
import { parentPort, workerData } from 'node:worker_threads'
import { MemoryKeyProvider } from '../adapters/key-provider.js'
import { EventResigner } from '../jobs/event-resigner.js'
import type { OffloadedOutcome, OffloadedVerifyKey } from '../jobs/resign-offload.js'
import { encodeBase64 } from '../matrix/base64.js'
import type { JsonObject } from '../matrix/canonical-json.js'
import { selectSigningBackend } from '../matrix/crypto/selection.js'
import {
  decodeVerifyKeyBase64,
  Ed25519SigningKey,
  signWithNow,
  type VerifyKey,
} from '../matrix/keys.js'
import { sodiumSigningBackend } from '../sodium/sodium-backend.js'
import type { WorkerAnswer, WorkerContext, WorkerRequest } from './resign-workers.js'

/** Contexts a worker keeps; the pool moves to a new one only when the keys change. */
const KEPT_CONTEXTS = 4

interface Decider {
  readonly resigner: EventResigner
  readonly serverName: string
  /** The current key, for `sign` requests. */
  readonly current: Ed25519SigningKey
  readonly oldKey: VerifyKey | undefined
}

function verifyKey(key: OffloadedVerifyKey): VerifyKey {
  return decodeVerifyKeyBase64('ed25519', key.version, encodeBase64(key.bytes))
}

function deciderOf(context: WorkerContext): Decider {
  const current = new Ed25519SigningKey(context.current.version, context.current.seed)
  context.current.seed.fill(0)
  const oldVerifyKeys = context.old.map((key) => ({ key: verifyKey(key), expired_ts: 0 }))
  return {
    resigner: new EventResigner({
      keyProvider: new MemoryKeyProvider(current, { oldVerifyKeys }),
      serverName: context.serverName,
      concurrency: context.concurrency,
    }),
    serverName: context.serverName,
    current,
    oldKey: context.oldKey === undefined ? undefined : verifyKey(context.oldKey),
  }
}

/** Signs each packed message (see `WorkerRequest`) with the current key: 64 bytes each, in order. */
async function signPacked(key: Ed25519SigningKey, buffer: ArrayBuffer, count: number) {
  const bytes = new Uint8Array(buffer)
  const view = new DataView(buffer)
  const out = new Uint8Array(64 * count)
  const later: Promise<void>[] = []
  let at = 0
  for (let index = 0; index < count; index++) {
    const length = view.getUint32(at, true)
    const message = bytes.subarray(at + 4, at + 4 + length)
    at += 4 + length
    const signature = signWithNow(key, message)
    if (signature instanceof Uint8Array) out.set(signature, 64 * index)
    else later.push(signature.then((value) => out.set(value, 64 * index)))
  }
  await Promise.all(later)
  return out.buffer
}

async function decide(
  decider: Decider,
  request: WorkerRequest,
): Promise<OffloadedOutcome[] | ArrayBuffer> {
  const { resigner, serverName, oldKey } = decider
  if (request.kind === 'sign') return signPacked(decider.current, request.buffer, request.count)
  if (request.kind === 'texts') return resigner.resignTexts(request.items, { oldKey })

  const outcomes = await resigner.resign(request.items, { oldKey })
  return outcomes.map((outcome) => {
    if (outcome.status !== 'resigned') return outcome
    const { event, ...rest } = outcome
    const ours = (event.signatures as JsonObject)[serverName] as JsonObject
    return { ...rest, signature: ours[outcome.keyId] as string }
  })
}

function serve(port: NonNullable<typeof parentPort>): void {
  if (workerData?.signer === 'sodium') selectSigningBackend(sodiumSigningBackend)
  const deciders = new Map<number, Decider>()

  port.on('message', (request: WorkerRequest) => {
    let answer: Promise<WorkerAnswer>
    try {
      if (request.context !== undefined) {
        deciders.set(request.contextId, deciderOf(request.context))
        for (const id of deciders.keys()) {
          if (deciders.size <= KEPT_CONTEXTS) break
          deciders.delete(id)
        }
      }
      const decider = deciders.get(request.contextId)
      if (decider === undefined)
        throw new Error(`the worker has no keys for context ${request.contextId}`)
      answer = decide(decider, request).then((outcomes) => ({ id: request.id, outcomes }))
    } catch (error) {
      answer = Promise.reject(error)
    }
    answer.then(
      (message) => {
        // Signatures travel as one buffer, handed over rather than copied.
        const { outcomes } = message as { outcomes?: unknown }
        port.postMessage(message, outcomes instanceof ArrayBuffer ? [outcomes] : [])
      },
      (error: unknown) => {
        const { name, message } = error instanceof Error ? error : new Error(String(error))
        port.postMessage({ id: request.id, error: { name, message } } satisfies WorkerAnswer)
      },
    )
  })
}

if (parentPort !== null) serve(parentPort)
