import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import {
  decodeSigningKeyBase64,
  decodeVerifyKeyBase64,
  encodeBase64,
  encodeVerifyKeyBase64,
  generateSigningKey,
  parseVerifyKey,
  readSigningKeys,
  signJson,
  verifySignedJson,
  writeSigningKeys,
} from 'matrix-background-updates'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { canonicalJsonObject } from '../matrix/json-arbitraries.js'
import { describeWithPython, type PeerAnswer, PythonPeer } from './python.js'

const PEER = fileURLToPath(new URL('./peer.py', import.meta.url))

interface PythonKey {
  algorithm: string
  version: string
  seed: string
  verify_key: string
}

function ok(answer: PeerAnswer): PeerAnswer {
  expect(answer.error).toBeUndefined()
  return answer
}

describeWithPython('signing against python3-signedjson and python3-nacl', () => {
  let python: PythonPeer

  beforeAll(() => {
    python = new PythonPeer(PEER)
  })

  afterAll(() => python.close())

  const seed = Date.now() % 2 ** 31
  const objects = () => fc.sample(canonicalJsonObject, { numRuns: 150, seed })

  it('signs JSON that signedjson verifies, with the very signatures signedjson makes', async () => {
    const key = generateSigningKey('ours')
    const seedBase64 = encodeBase64(key.encode())
    const signed = await Promise.all(
      objects().map((object) => signJson(object, 'example.org', key)),
    )

    const verified = await python.batch(
      signed.map((value) => ({
        op: 'verify',
        value,
        name: 'example.org',
        version: 'ours',
        key: encodeVerifyKeyBase64(key.verifyKey),
      })),
    )
    expect(verified.map((answer) => ok(answer).valid)).toEqual(signed.map(() => true))

    const theirs = await python.batch(
      objects().map((value) => ({
        op: 'sign',
        value,
        name: 'example.org',
        version: 'ours',
        seed: seedBase64,
      })),
    )
    expect(theirs.map((answer) => ok(answer).signed)).toEqual(signed)
  })

  it('verifies what signedjson signs, and refuses it changed', async () => {
    const [described] = ok(await python.request('generate_keys', { versions: ['theirs'] }))
      .keys as PythonKey[]
    const verifyKey = decodeVerifyKeyBase64('ed25519', 'theirs', described?.verify_key as string)

    const answers = await python.batch(
      objects().map((value) => ({
        op: 'sign',
        value,
        name: 'remote.example',
        version: 'theirs',
        seed: described?.seed,
      })),
    )
    for (const answer of answers) {
      const signed = ok(answer).signed as Record<string, unknown>
      expect(await verifySignedJson(signed, 'remote.example', verifyKey)).toBe(true)
      expect(await verifySignedJson({ ...signed, extra: 1 }, 'remote.example', verifyKey)).toBe(
        false,
      )
      expect(await verifySignedJson(signed, 'other.example', verifyKey)).toBe(false)
    }
  })

  it('refuses, as signedjson does, a signature made over other bytes', async () => {
    const key = generateSigningKey('1')
    const signed = await signJson({ a: 1 }, 'example.org', key)
    const tampered = { ...signed, a: 2 }
    const answer = ok(
      await python.request('verify', {
        value: tampered,
        name: 'example.org',
        version: '1',
        key: encodeVerifyKeyBase64(key.verifyKey),
      }),
    )
    expect(answer.valid).toBe(false)
    expect(await verifySignedJson(tampered, 'example.org', key.verifyKey)).toBe(false)
  })

  it('derives the verify keys signedjson derives from the same seeds', async () => {
    const keys = Array.from({ length: 20 }, (_, i) => generateSigningKey(`k${i}`))
    const answers = await python.batch(
      keys.map((key) => ({
        op: 'describe_key',
        version: key.version,
        seed: encodeBase64(key.encode()),
      })),
    )
    expect(answers.map((answer) => ok(answer).verify_key)).toEqual(
      keys.map((key) => encodeVerifyKeyBase64(key.verifyKey)),
    )
  })

  it('round-trips verify keys between the two', async () => {
    const ours = generateSigningKey('a_1')
    const decoded = ok(
      await python.request('decode_verify_key', {
        key_id: ours.keyId,
        key: encodeVerifyKeyBase64(ours.verifyKey),
      }),
    )
    expect(decoded).toEqual({
      algorithm: 'ed25519',
      version: 'a_1',
      key: encodeVerifyKeyBase64(ours.verifyKey),
    })

    const [theirs] = ok(await python.request('generate_keys', { versions: ['b_2'] }))
      .keys as PythonKey[]
    const parsed = parseVerifyKey(`ed25519:b_2 ${theirs?.verify_key}`)
    expect(parsed.keyId).toBe('ed25519:b_2')
    expect(encodeVerifyKeyBase64(parsed)).toBe(theirs?.verify_key)
  })

  it('writes key files that signedjson reads', async () => {
    const keys = [
      generateSigningKey('current'),
      generateSigningKey('next_1'),
      generateSigningKey('Z'),
    ]
    const read = ok(await python.request('read_key_file', { text: writeSigningKeys(keys) }))
    expect(read.keys).toEqual(
      keys.map((key) => ({
        algorithm: 'ed25519',
        version: key.version,
        seed: encodeBase64(key.encode()),
        verify_key: encodeVerifyKeyBase64(key.verifyKey),
      })),
    )
  })

  it('reads key files that signedjson writes, byte for byte the same when written back', async () => {
    const generated = ok(await python.request('generate_keys', { versions: ['auto', 'b', 'c_3'] }))
    const pythonKeys = generated.keys as PythonKey[]
    const written = ok(
      await python.request('write_key_file', {
        keys: pythonKeys.map((key) => ({ version: key.version, seed: key.seed })),
      }),
    ).text as string

    const keys = readSigningKeys(written)
    expect(keys.map((key) => key.keyId)).toEqual(['ed25519:auto', 'ed25519:b', 'ed25519:c_3'])
    expect(keys.map((key) => encodeVerifyKeyBase64(key.verifyKey))).toEqual(
      pythonKeys.map((key) => key.verify_key),
    )
    expect(writeSigningKeys(keys)).toBe(written)

    const signed = ok(
      await python.request('sign', {
        value: { x: 1 },
        name: 'n',
        version: 'auto',
        seed: pythonKeys[0]?.seed,
      }),
    ).signed
    expect(await signJson({ x: 1 }, 'n', keys[0] as never)).toEqual(signed)
  })

  it("decodes the seed of Synapse's test key as signedjson does", async () => {
    const seedText = 'YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1'
    const theirs = ok(await python.request('describe_key', { version: '1', seed: seedText }))
    const ours = decodeSigningKeyBase64('ed25519', '1', seedText)
    expect(encodeVerifyKeyBase64(ours.verifyKey)).toBe(theirs.verify_key)
    expect(encodeBase64(ours.encode())).toBe(theirs.seed)
  })
})
