/**
 * Stored events that are not what they should be go through event_resign over the memory adapter:
 * each is skipped, counted by reason, logged once and never rewritten, and the job completes.
 */
import fc from 'fast-check'
import { eventResignJob, type UpdateBatchEvent } from 'matrix-background-updates'
import { runUntilIdle } from 'matrix-background-updates/testing'
import { describe, expect, it } from 'vitest'
import { makeHomeserver, rotatedProvider, signedMessage } from './job-setup.js'

const server = 'example.org'
const sender = '@alice:example.org'

/** A logger that keeps what it is given. */
function capturingLogger() {
  const lines: Array<{ level: string; details: Record<string, unknown>; message: string }> = []
  const at =
    (level: string) =>
    (details: Record<string, unknown>, message: string): void => {
      lines.push({ level, details, message })
    }
  return {
    lines,
    logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') },
  }
}

function setup(batchSize: number) {
  const kit = makeHomeserver({ defaultBatchSize: batchSize })
  const { lines, logger } = capturingLogger()
  const batches: UpdateBatchEvent[] = []
  kit.runner.registerJob(
    eventResignJob({ serverName: server, keyProvider: rotatedProvider(), logger }),
  )
  kit.runner.on('update:batch', (event) => batches.push(event))
  return { ...kit, lines, batches }
}

function totals(batches: readonly UpdateBatchEvent[]): Record<string, number> {
  const sum: Record<string, number> = {}
  for (const batch of batches) {
    for (const [kind, count] of Object.entries(batch.outcomes)) sum[kind] = (sum[kind] ?? 0) + count
  }
  return sum
}

/** The stored texts of a signed v10 message, broken in each way the issue lists. */
async function brokenEvents() {
  const signed = await signedMessage(sender, 'base')
  const text = JSON.stringify(signed.event)
  const v1 = await signedMessage(sender, 'v1', { roomVersion: '1' })
  const v1Text = JSON.stringify(v1.event)
  const v1b = await signedMessage(sender, 'v1b', { roomVersion: '1' })
  const { content: _content, ...noContent } = signed.event
  return [
    {
      id: '$unparseable',
      json: '{"type": "m.room.message", "sender": "@alice:example.org"',
      reason: 'malformed',
    },
    { id: '$empty', json: '', reason: 'malformed' },
    { id: '$array', json: '[1, 2, 3]', reason: 'malformed' },
    { id: '$null', json: 'null', reason: 'malformed' },
    { id: '$no-content', json: JSON.stringify(noContent), reason: 'malformed' },
    {
      id: '$no-type',
      json: JSON.stringify({ ...signed.event, type: undefined }),
      reason: 'malformed',
    },
    { id: '$type-number', json: JSON.stringify({ ...signed.event, type: 7 }), reason: 'malformed' },
    {
      id: '$content-string',
      json: JSON.stringify({ ...signed.event, content: 'hi' }),
      reason: 'malformed',
    },
    {
      id: '$sender-not-user',
      json: JSON.stringify({ ...signed.event, sender: 'alice' }),
      reason: 'malformed',
    },
    {
      id: '$signatures-list',
      json: JSON.stringify({ ...signed.event, signatures: [] }),
      reason: 'malformed',
    },
    {
      id: '$unknown-version',
      json: text,
      version: 'org.example.v99',
      reason: 'unknown-room-version',
    },
    { id: '$no-version', json: text, version: null, reason: 'unknown-room-version' },
    {
      id: '$huge-depth',
      json: text.replace('"depth":7', '"depth":9007199254740993'),
      reason: 'unprovable',
    },
    { id: '$float-depth', json: text.replace('"depth":7', '"depth":7.5'), reason: 'unprovable' },
    {
      id: '$float-content',
      json: text.replace('"body":"base"', '"body":"base","n":0.1'),
      reason: 'unprovable',
    },
    {
      id: v1b.eventId,
      json: JSON.stringify(v1b.event).replace('"depth":7', '"depth":18446744073709551616'),
      version: '1',
      reason: 'unprovable',
    },
    {
      id: v1.eventId,
      json: v1Text.replace('"depth":7', '"depth":7e0'),
      version: '1',
      reason: 'resigned',
    },
  ]
}

describe('event_resign over malformed stored events', () => {
  it('skips each, counts it by reason, logs it once, never rewrites it, and completes', async () => {
    const broken = await brokenEvents()
    const kit = setup(3)
    kit.homeserver.addEvents(
      broken.map((item, index) => ({
        json: item.json,
        event_id: item.id,
        sender,
        stream_ordering: index + 1,
        room_version: item.version === undefined ? '10' : item.version,
      })),
    )

    await kit.runner.startJob('event_resign', {})
    const report = await runUntilIdle(kit.runner)

    expect(report).toMatchObject({ completed: ['event_resign'], failures: 0 })
    const expected: Record<string, number> = {}
    for (const item of broken) expected[item.reason] = (expected[item.reason] ?? 0) + 1
    expect(totals(kit.batches)).toEqual(expected)
    for (const item of broken.filter((each) => each.reason !== 'resigned')) {
      expect(kit.homeserver.storedJson(item.id)).toBe(item.json)
    }
    const warned = kit.lines.filter((line) => line.level === 'warn').map((line) => line.details)
    expect(warned.map((details) => [details.event_id, details.reason])).toEqual(
      broken.filter((item) => item.reason !== 'resigned').map((item) => [item.id, item.reason]),
    )
    const resigned = broken.filter((item) => item.reason === 'resigned').map((item) => item.id)
    expect(kit.homeserver.undoLog().map((entry) => entry.event_id)).toEqual(resigned)
  })

  it('completes over arbitrary stored texts, rewriting only what it counts as resigned', async () => {
    const signed = await signedMessage(sender, 'base')
    const text = JSON.stringify(signed.event)
    const storedText = fc.oneof(
      fc.string(),
      fc.json(),
      fc
        .tuple(fc.nat({ max: text.length }), fc.nat({ max: 8 }), fc.string({ maxLength: 6 }))
        .map(([at, cut, insert]) => `${text.slice(0, at)}${insert}${text.slice(at + cut)}`),
      fc.constant(text),
    )
    const roomVersion = fc.constantFrom('10', '1', '11', 'unknown', null)
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ json: storedText, version: roomVersion }), { maxLength: 8 }),
        fc.integer({ min: 1, max: 4 }),
        async (rows, batchSize) => {
          const kit = setup(batchSize)
          kit.homeserver.addEvents(
            rows.map((row, index) => ({
              json: row.json,
              event_id: `$e${index}`,
              sender,
              stream_ordering: index + 1,
              room_version: row.version,
            })),
          )

          await kit.runner.startJob('event_resign', {})
          const report = await runUntilIdle(kit.runner)

          expect(report).toMatchObject({ completed: ['event_resign'], failures: 0 })
          const counted = Object.values(totals(kit.batches)).reduce((a, b) => a + b, 0)
          expect(counted).toBe(rows.length)
          const rewritten = rows.filter(
            (row, index) => kit.homeserver.storedJson(`$e${index}`) !== row.json,
          )
          expect(rewritten).toHaveLength(totals(kit.batches).resigned ?? 0)
          expect(kit.homeserver.undoLog()).toHaveLength(rewritten.length)
        },
      ),
      { numRuns: process.env.CI === 'true' ? 300 : 60 },
    )
  })
})
