import { describe, expect, it } from 'vitest'
import {
  computeEventId,
  EventResigner,
  generateSigningKey,
  type JsonObject,
  MemoryKeyProvider,
  resignEvent,
  type SigningKey,
  type StoredEvent,
  signEvent,
} from '../../src/index.js'

const server = 'example.org'
const oldKey = generateSigningKey('old')
const newKey = generateSigningKey('new')

async function storedEvents(count: number): Promise<StoredEvent[]> {
  const stored: StoredEvent[] = []
  for (let i = 0; i < count; i++) {
    const event = await signEvent(
      {
        type: 'm.room.message',
        room_id: '!room:example.org',
        sender: i % 5 === 0 ? '@bob:elsewhere.example' : '@alice:example.org',
        content: { msgtype: 'm.text', body: `hello ${i}` },
        depth: 10 + i,
        prev_events: ['$prev'],
        auth_events: ['$auth'],
        origin_server_ts: 1_690_000_000_000 + i,
      },
      '10',
      server,
      oldKey,
    )
    stored.push({ event, roomVersion: '10', eventId: computeEventId(event, '10') })
  }
  return stored
}

/** The new key, counting how many signatures are asked for at once at most. */
function countingKey(): { key: SigningKey; peak: () => number } {
  let inFlight = 0
  let peak = 0
  const key: SigningKey = {
    algorithm: 'ed25519',
    version: newKey.version,
    keyId: newKey.keyId,
    verifyKey: newKey.verifyKey,
    async sign(message) {
      inFlight++
      peak = Math.max(peak, inFlight)
      await new Promise((resolve) => setImmediate(resolve))
      inFlight--
      return newKey.sign(message)
    },
  }
  return { key, peak: () => peak }
}

describe('EventResigner concurrency', () => {
  it('gives the same outcomes, in the same order, whatever the concurrency', async () => {
    const stored = await storedEvents(40)
    const outcomes = await Promise.all(
      [1, 3, 16, 100].map((concurrency) =>
        new EventResigner({
          keyProvider: new MemoryKeyProvider(newKey),
          serverName: server,
          concurrency,
        }).resign(stored),
      ),
    )

    for (const other of outcomes.slice(1)) expect(other).toEqual(outcomes[0])
    expect(outcomes[0]?.map((outcome) => outcome.status)).toContain('not-ours')
    expect(outcomes[0]?.filter((outcome) => outcome.status === 'resigned')).toHaveLength(32)
  })

  it('never has more signatures in flight than the concurrency', async () => {
    const stored = await storedEvents(30)
    for (const concurrency of [1, 4]) {
      const { key, peak } = countingKey()
      const resigner = new EventResigner({
        keyProvider: new MemoryKeyProvider(key),
        serverName: server,
        concurrency,
      })
      await resigner.resign(stored)
      expect(peak()).toBe(concurrency)
    }
  })

  it('refuses a concurrency that is not a positive integer', () => {
    const keyProvider = new MemoryKeyProvider(newKey)
    for (const concurrency of [0, -1, 1.5, Number.NaN]) {
      expect(() => new EventResigner({ keyProvider, serverName: server, concurrency })).toThrow(
        RangeError,
      )
    }
  })

  it('keeps the resigned event equal to what one call of resignEvent would give', async () => {
    const [, first] = await storedEvents(2)
    const [outcome] = await new EventResigner({
      keyProvider: new MemoryKeyProvider(newKey),
      serverName: server,
    }).resign([first as StoredEvent])
    const expected = await resignEvent((first as StoredEvent).event as JsonObject, {
      roomVersion: '10',
      serverName: server,
      signingKey: newKey,
    })
    expect(outcome?.status).toBe('resigned')
    expect((outcome as { event: JsonObject }).event).toEqual(expected)
  })
})

describe('EventResigner concurrency when signing fails', () => {
  it('rejects the batch and starts no further event after a failed signature', async () => {
    const stored = await storedEvents(40)
    let calls = 0
    const failing: SigningKey = {
      algorithm: 'ed25519',
      version: newKey.version,
      keyId: newKey.keyId,
      verifyKey: newKey.verifyKey,
      async sign() {
        calls++
        await new Promise((resolve) => setImmediate(resolve))
        throw new Error('the signing service is down')
      },
    }
    const resigner = new EventResigner({
      keyProvider: new MemoryKeyProvider(failing),
      serverName: server,
      concurrency: 4,
    })

    await expect(resigner.resign(stored)).rejects.toThrow(/failed to sign/)
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(calls).toBe(4)
  })
})
