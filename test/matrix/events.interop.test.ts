/**
 * Interop of event redaction, hashing and signing with the libraries Synapse signs with
 * (canonicaljson, signedjson, PyNaCl under /usr/bin/python3). Python only canonicalizes, signs and
 * verifies; the redaction it signs over is ours, checked against the fixtures in redaction.test.ts.
 */
import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { afterAll, beforeAll, expect, it } from 'vitest'
import {
  decodeVerifyKeyBase64,
  type Ed25519SigningKey,
  encodeBase64,
  encodeCanonicalJsonBytes,
  encodeVerifyKeyBase64,
  generateSigningKey,
  type JsonObject,
  redactEvent,
  signEvent,
  type VerifyKey,
  verifyEventSignature,
} from '../../src/index.js'
import { describeWithPython, type PeerAnswer, PythonPeer } from '../interop/python.js'
import { eventArbitrary } from './event-arbitraries.js'

const VERSIONS = ['1', '3', '4', '6', '10', '11', '12'] as const
const PER_VERSION = 150
const BATCH = 100
const PEER_SCRIPT = new URL('../interop/peer.py', import.meta.url).pathname

interface Case {
  roomVersion: string
  serverName: string
  /** Hashed and signed here. */
  signed: JsonObject
  /** What a signature covers: the redacted event without signatures and unsigned. */
  covered: JsonObject
}

/** Deterministic events: the same seed gives the same 1,050 events on every run. */
function generateEvents() {
  return VERSIONS.flatMap((version, index) =>
    fc.sample(eventArbitrary([version]), { seed: 20261203 + index, numRuns: PER_VERSION }),
  )
}

function coveredPart(event: JsonObject, roomVersion: string): JsonObject {
  const {
    signatures: _signatures,
    unsigned: _unsigned,
    ...covered
  } = redactEvent(event, roomVersion)
  return covered
}

async function inBatches<T>(
  items: readonly T[],
  toRequest: (item: T) => { op: string } & Record<string, unknown>,
  peer: PythonPeer,
): Promise<PeerAnswer[]> {
  const answers: PeerAnswer[] = []
  for (let start = 0; start < items.length; start += BATCH) {
    answers.push(...(await peer.batch(items.slice(start, start + BATCH).map(toRequest))))
  }
  for (const answer of answers) expect(answer.error).toBeUndefined()
  return answers
}

describeWithPython('events, against canonicaljson and signedjson', () => {
  const ourKey: Ed25519SigningKey = generateSigningKey('ts')
  let peer: PythonPeer
  let theirKey: { version: string; seed: string; verifyKey: VerifyKey }
  let cases: Case[]

  beforeAll(async () => {
    peer = new PythonPeer(PEER_SCRIPT)
    const generated = await peer.request('generate_keys', { versions: ['py'] })
    const [described] = generated.keys as Record<string, string>[]
    if (described === undefined) throw new Error('the Python peer generated no key')
    theirKey = {
      version: 'py',
      seed: described.seed as string,
      verifyKey: decodeVerifyKeyBase64('ed25519', 'py', described.verify_key as string),
    }

    cases = []
    for (const { roomVersion, serverName, event } of generateEvents()) {
      const signed = (await signEvent(event, roomVersion, serverName, ourKey)) as JsonObject
      cases.push({ roomVersion, serverName, signed, covered: coveredPart(signed, roomVersion) })
    }
  })

  afterAll(async () => {
    await peer?.close()
  })

  it('covers at least 1,000 events over room versions 1, 3, 4, 6, 10, 11 and 12', () => {
    expect(cases.length).toBeGreaterThanOrEqual(1000)
    expect(new Set(cases.map((c) => c.roomVersion))).toEqual(new Set(VERSIONS))
  })

  it('writes the same canonical JSON of every redacted event as canonicaljson', async () => {
    const answers = await inBatches(cases, (c) => ({ op: 'canonical', value: c.covered }), peer)

    answers.forEach((answer, index) => {
      const ours = encodeBase64(encodeCanonicalJsonBytes((cases[index] as Case).covered))
      expect(answer.bytes, `event ${index}`).toBe(ours)
    })
  })

  it('gives every event the content hash of the bytes canonicaljson writes', async () => {
    const answers = await inBatches(
      cases,
      (c) => {
        const { signatures: _s, unsigned: _u, hashes: _h, ...hashed } = c.signed
        return { op: 'canonical', value: hashed }
      },
      peer,
    )

    answers.forEach((answer, index) => {
      const digest = createHash('sha256').update(Buffer.from(answer.bytes as string, 'base64'))
      const theirs = digest.digest('base64').replace(/=+$/, '')
      expect(theirs, `event ${index}`).toBe(
        ((cases[index] as Case).signed.hashes as JsonObject).sha256,
      )
    })
  })

  it('signs here what signedjson verifies there', async () => {
    const verifyKey = encodeVerifyKeyBase64(ourKey.verifyKey)

    const answers = await inBatches(
      cases,
      (c) => ({
        op: 'verify',
        value: { ...c.covered, signatures: c.signed.signatures },
        name: c.serverName,
        version: 'ts',
        key: verifyKey,
      }),
      peer,
    )

    for (const [index, answer] of answers.entries()) {
      expect(answer.valid, `event ${index}`).toBe(true)
    }
  })

  it('makes the very signature signedjson makes with the same key', async () => {
    const seed = encodeBase64(ourKey.encode())

    const answers = await inBatches(
      cases,
      (c) => ({ op: 'sign', value: c.covered, name: c.serverName, version: 'ts', seed }),
      peer,
    )

    answers.forEach((answer, index) => {
      const c = cases[index] as Case
      const theirs = (answer.signed as Record<string, Record<string, Record<string, string>>>)
        .signatures?.[c.serverName]?.['ed25519:ts']
      expect(theirs, `event ${index}`).toBe(
        (c.signed.signatures as Record<string, Record<string, string>>)[c.serverName]?.[
          'ed25519:ts'
        ],
      )
    })
  })

  it('verifies here, on the full event, what signedjson signed there', async () => {
    const answers = await inBatches(
      cases,
      (c) => ({
        op: 'sign',
        value: c.covered,
        name: c.serverName,
        version: 'py',
        seed: theirKey.seed,
      }),
      peer,
    )

    for (const [index, answer] of answers.entries()) {
      const c = cases[index] as Case
      const signatures = (answer.signed as JsonObject).signatures as JsonObject
      const full = { ...c.signed, signatures }

      expect(
        await verifyEventSignature(full, c.roomVersion, c.serverName, theirKey.verifyKey),
        `event ${index}`,
      ).toBe(true)
    }
  })
})
