import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { decodeBase64 } from 'matrix-background-updates'
import { sodiumWorkerBackend } from 'matrix-background-updates/sodium'
import { describe, expect, it } from 'vitest'
import * as pure from '../../src/matrix/crypto/pure.js'
import { SEED_BASE64, VERIFY_KEY_BASE64 } from '../matrix/synapse-vectors.js'

const run = promisify(execFile)

/** A seed and its public key, for keys other than Synapse's test key. */
function keyPair(fill: number): { seed: Uint8Array; publicKey: Uint8Array } {
  const seed = new Uint8Array(32).fill(fill)
  return { seed, publicKey: pure.purePublicKey(seed) }
}

/** A message of `length` bytes that differs from those of other `index`es. */
function message(index: number, length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (index * 7 + i * 13) & 0xff)
}

describe('SodiumWorkerPool, through sodiumWorkerBackend', () => {
  it('keeps the requests of many keys apart when they are made together', async () => {
    const backend = sodiumWorkerBackend({ threads: 2, chunkSize: 3 })
    try {
      const pairs = Array.from({ length: 5 }, (_, i) => keyPair(i + 1))
      const signers = pairs.map(({ seed, publicKey }) => backend.createSigner(seed, publicKey))
      const verifiers = pairs.map(({ publicKey }) => backend.createVerifier(publicKey))
      const expected: Uint8Array[] = []
      const signed: Promise<Uint8Array>[] = []
      const verified: Promise<boolean>[] = []
      const truths: boolean[] = []
      // Key by key in turn, so that every chunk window holds requests of every key.
      for (let i = 0; i < 40; i++) {
        const k = i % pairs.length
        const pair = pairs[k] as (typeof pairs)[number]
        const bytes = message(i, i * 5)
        expected.push(pure.pureSign(pair.seed, bytes))
        signed.push(Promise.resolve((signers[k] as (typeof signers)[number])(bytes)))
        // Every third check is given the signature of another key, which must not verify.
        const signer = i % 3 === 0 ? (pairs[(k + 1) % pairs.length] as typeof pair) : pair
        truths.push(i % 3 !== 0)
        const verify = verifiers[k] as (typeof verifiers)[number]
        verified.push(Promise.resolve(verify(bytes, pure.pureSign(signer.seed, bytes))))
      }

      expect(await Promise.all(signed)).toEqual(expected)
      expect(await Promise.all(verified)).toEqual(truths)
    } finally {
      await backend.close()
    }
  })

  it('signs the bytes given, though the caller reuses its buffers as soon as it returns', async () => {
    const backend = sodiumWorkerBackend({ threads: 1, chunkSize: 8 })
    try {
      const seed = decodeBase64(SEED_BASE64)
      const publicKey = decodeBase64(VERIFY_KEY_BASE64)
      const sign = backend.createSigner(seed, publicKey)
      const verify = backend.createVerifier(publicKey)
      const buffer = new Uint8Array(64)
      const signature = new Uint8Array(64)
      const expected: Uint8Array[] = []
      const signed: Promise<Uint8Array>[] = []
      const verified: Promise<boolean>[] = []
      for (let i = 0; i < 20; i++) {
        buffer.set(message(i, 64))
        expected.push(pure.pureSign(seed, buffer))
        signed.push(Promise.resolve(sign(buffer)))
        signature.set(expected[i] as Uint8Array)
        verified.push(Promise.resolve(verify(buffer, signature)))
        buffer.fill(0)
        signature.fill(0)
      }

      expect(await Promise.all(signed)).toEqual(expected)
      expect(await Promise.all(verified)).toEqual(expected.map(() => true))
    } finally {
      await backend.close()
    }
  })

  it('signs messages from empty to larger than a chunk starts with, in one chunk', async () => {
    const backend = sodiumWorkerBackend({ threads: 1, chunkSize: 16 })
    try {
      const { seed, publicKey } = keyPair(9)
      const sign = backend.createSigner(seed, publicKey)
      const messages = [0, 1, 3, 1000, 5000, 70_000, 2, 300_000].map((length, i) =>
        message(i, length),
      )
      const signatures = await Promise.all(messages.map((bytes) => sign(bytes)))

      expect(signatures).toEqual(messages.map((bytes) => pure.pureSign(seed, bytes)))
    } finally {
      await backend.close()
    }
  })

  it('rejects what is queued and in flight, and later work, once a worker fails', async () => {
    const backend = sodiumWorkerBackend({ threads: 1 })
    const { seed, publicKey } = keyPair(4)
    const sign = backend.createSigner(seed, publicKey)
    // libsodium refuses a public key of 31 bytes, which throws on the worker.
    const verify = backend.createVerifier(new Uint8Array(31))
    try {
      const failing = verify(Uint8Array.of(1), new Uint8Array(64))
      const queued = sign(Uint8Array.of(2))

      await expect(failing).rejects.toThrow()
      await expect(queued).rejects.toThrow()
      await expect(sign(Uint8Array.of(3))).rejects.toThrow()
    } finally {
      await backend.close()
    }
  })
})

/** The built entry (`npm test` builds it first), for child processes to load. */
const SODIUM_ENTRY = new URL('../../dist/sodium.js', import.meta.url).href

/** Runs an ES module script that has the built entry's exports in scope; its stdout. */
async function runScript(body: string): Promise<string> {
  const script = `
    const { sodiumWorkerBackend } = await import(${JSON.stringify(SODIUM_ENTRY)})
    const seed = Uint8Array.from(${JSON.stringify([...decodeBase64(SEED_BASE64)])})
    const publicKey = Uint8Array.from(${JSON.stringify([...decodeBase64(VERIFY_KEY_BASE64)])})
    ${body}
  `
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
    timeout: 20_000,
  })
  return stdout
}

describe('the worker threads and the life of the process', () => {
  it('do not keep the process alive once idle, those that never got work included', async () => {
    const stdout = await runScript(`
      const backend = sodiumWorkerBackend({ threads: 2 })
      const signature = await backend.createSigner(seed, publicKey)(Uint8Array.of(1))
      sodiumWorkerBackend({ threads: 1 })
      console.log(signature.length)
    `)
    expect(stdout.trim()).toBe('64')
  })

  it('keep it alive until close() has resolved', async () => {
    const stdout = await runScript(`
      for (let i = 0; i < 5; i++) {
        const backend = sodiumWorkerBackend({ threads: 2 })
        await backend.createSigner(seed, publicKey)(Uint8Array.of(i))
        await backend.close()
      }
      console.log('closed')
    `)
    expect(stdout.trim()).toBe('closed')
  })
})
