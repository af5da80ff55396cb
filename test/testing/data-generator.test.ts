import { getVerifyKey, verifyEventSignature } from 'matrix-background-updates'
import { createHomeserverStorage, generateDataSet } from 'matrix-background-updates/testing'
import { describe, expect, it } from 'vitest'

const options = { seed: 5, rooms: 24, messages: 120 }

async function generated(extra: object = {}) {
  const { storage, homeserver } = createHomeserverStorage()
  const summary = await generateDataSet(homeserver, { ...options, ...extra })
  const query = { serverName: summary.serverName, after: -1, beforeTs: null, limit: 100_000 }
  const own = await storage.reader('events').pageOwnEvents(query)
  return { storage, homeserver, summary, own }
}

describe('generateDataSet', () => {
  it('gives the same events for the same seed and other events for another seed', async () => {
    const first = await generated()
    const again = await generated()
    const other = await generated({ seed: 6 })

    expect(again.own).toEqual(first.own)
    expect(other.own).not.toEqual(first.own)
  })

  it('spreads rooms over room versions 1 to 12', async () => {
    const { own } = await generated()

    expect(new Set(own.map((row) => row.room_version))).toEqual(
      new Set(Array.from({ length: 12 }, (_, index) => String(index + 1))),
    )
  })

  it('signs local events with the old key, and stores some redacted without their content', async () => {
    const { own, summary } = await generated({ redactedShare: 0.3 })
    const verifyKey = getVerifyKey(summary.oldKey)
    const events = own.map((row) => ({ row, event: JSON.parse(row.json) }))
    const redacted = events.filter(
      ({ event }) => event.type === 'm.room.message' && Object.keys(event.content).length === 0,
    )

    expect(redacted.length).toBeGreaterThan(0)
    expect(redacted.length).toBeLessThanOrEqual(summary.redactedEvents)
    for (const { row, event } of events.slice(0, 40)) {
      const valid = await verifyEventSignature(
        event,
        row.room_version as string,
        summary.serverName,
        verifyKey,
      )
      expect(valid).toBe(true)
    }
  })

  it('adds malformed rows only when asked', async () => {
    const plain = await generated()
    const broken = await generated({ malformedRows: true })
    const unparsable = (rows: { json: string }[]) =>
      rows.filter((row) => {
        try {
          const event = JSON.parse(row.json)
          return typeof event !== 'object' || typeof event.type !== 'string'
        } catch {
          return true
        }
      })

    expect(unparsable(plain.own)).toEqual([])
    expect(unparsable(broken.own).length).toBe(3)
    expect(broken.summary.malformedEvents).toBe(3)
  })
})
