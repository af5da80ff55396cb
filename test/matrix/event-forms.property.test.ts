// The byte writer's encoding of an event's two hashed forms (encodeEventFormBytes) against the
// forms built and encoded one by one, which is what the specification defines. The re-signer hashes
// and signs what the writer gives, so any difference would be a wrong event ID check or a wrong
// signature.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  encodeCanonicalJson,
  type JsonObject,
  type JsonValue,
  KNOWN_ROOM_VERSIONS,
} from '../../src/index.js'
import { encodeEventFormBytes } from '../../src/matrix/canonical-bytes.js'
import { signedForm, withoutDerivedEventId } from '../../src/matrix/event-hashes.js'
import { getRoomVersionRules } from '../../src/matrix/room-versions.js'
import { eventArbitrary, jsonValue } from './event-arbitraries.js'
import { unicodeText } from './json-arbitraries.js'

const runs = process.env.CI === 'true' ? 2_000 : 300
const utf8 = new TextDecoder('utf-8', { fatal: true })

/** The writer's forms as text, or undefined when it gave up. */
function encodeEventForms(event: JsonObject, rules: ReturnType<typeof getRoomVersionRules>) {
  const forms = encodeEventFormBytes(event, rules)
  if (forms === undefined) return undefined
  return { signed: utf8.decode(forms.signed), content: utf8.decode(forms.content) }
}

/** What the content hash covers, built as the specification says. */
function hashedForm(event: JsonObject, roomVersion: string): JsonObject {
  const rules = getRoomVersionRules(roomVersion)
  const { unsigned: _u, signatures: _s, hashes: _h, ...rest } = withoutDerivedEventId(event, rules)
  return rest
}

/** Both forms encoded one by one, or undefined when either cannot be written as canonical JSON. */
function formsOneByOne(event: JsonObject, roomVersion: string) {
  const rules = getRoomVersionRules(roomVersion)
  try {
    return {
      signed: encodeCanonicalJson(signedForm(event, rules)),
      content: encodeCanonicalJson(hashedForm(event, roomVersion)),
    }
  } catch {
    return undefined
  }
}

/** Events as a store holds them: hashes, signatures, sometimes an event_id and other keys. */
const storedEvent = fc
  .record({
    base: eventArbitrary(KNOWN_ROOM_VERSIONS),
    hash: fc.string({ unit: 'grapheme-ascii', maxLength: 43 }),
    signatures: fc.dictionary(
      fc.constantFrom('example.org', 'other.example'),
      fc.dictionary(fc.constantFrom('ed25519:a', 'ed25519:b'), fc.string({ maxLength: 8 })),
      { noNullPrototype: true },
    ),
    eventId: fc.option(fc.string({ unit: 'grapheme-ascii', maxLength: 10 }), { nil: undefined }),
    extra: fc.dictionary(unicodeText(), jsonValue, { maxKeys: 2, noNullPrototype: true }),
  })
  .map(({ base, hash, signatures, eventId, extra }) => {
    const event: JsonObject = { ...extra, ...base.event, hashes: { sha256: hash }, signatures }
    if (eventId !== undefined) event.event_id = `$${eventId}`
    return { roomVersion: base.roomVersion, event }
  })

describe('encodeEventFormBytes', () => {
  it('gives the very texts of the forms encoded one by one, or gives up', () => {
    let given = 0
    let total = 0
    fc.assert(
      fc.property(storedEvent, ({ event, roomVersion }) => {
        total++
        const forms = encodeEventForms(event, getRoomVersionRules(roomVersion))
        if (forms === undefined) return
        given++
        expect(forms).toEqual(formsOneByOne(event, roomVersion))
      }),
      { numRuns: runs },
    )
    // Both paths are taken: the arbitraries lean on keys that make it give up (quotes, controls,
    // astral characters), and about one event in ten has none (155 of 2,000 under CI when written).
    expect(given).toBeGreaterThan(total / 40)
    expect(given).toBeLessThan(total)
  })

  it('gives forms for the events of every room version, after a JSON round trip too', () => {
    fc.assert(
      fc.property(eventArbitrary(KNOWN_ROOM_VERSIONS), ({ event, roomVersion }) => {
        const parsed = JSON.parse(JSON.stringify({ ...event, hashes: { sha256: 'x' } }))
        const forms = encodeEventForms(parsed, getRoomVersionRules(roomVersion))
        const expected = formsOneByOne(parsed, roomVersion)
        if (forms !== undefined) expect(forms).toEqual(expected)
      }),
      { numRuns: runs },
    )
  })

  it('never gives forms for an event that canonical JSON cannot express', () => {
    const unencodable = fc.constantFrom<JsonValue | unknown>(
      1.5,
      Number.NaN,
      2 ** 53,
      '\ud800',
      undefined,
      new Date(0),
    )
    fc.assert(
      fc.property(
        storedEvent,
        unencodable,
        fc.constantFrom('content', 'depth', 'room_id', 'custom'),
        ({ event, roomVersion }, bad, where) => {
          const spoiled = { ...event } as Record<string, unknown>
          if (where === 'content') spoiled.content = { ...(event.content as JsonObject), x: bad }
          else spoiled[where] = bad
          expect(
            encodeEventForms(spoiled as JsonObject, getRoomVersionRules(roomVersion)),
          ).toBeUndefined()
        },
      ),
      { numRuns: runs },
    )
  })

  it('leaves event_id in the forms of versions 1 and 2 and out of the later ones', () => {
    const event: JsonObject = {
      type: 'm.room.message',
      content: { body: 'hi' },
      event_id: '$abc:example.org',
      hashes: { sha256: 'h' },
      signatures: { 'example.org': { 'ed25519:a': 's' } },
      unsigned: { age: 1 },
      sender: '@a:example.org',
    }
    const v1 = encodeEventForms(event, getRoomVersionRules('1'))
    expect(v1?.signed).toBe(
      '{"content":{},"event_id":"$abc:example.org","hashes":{"sha256":"h"},"sender":"@a:example.org","type":"m.room.message"}',
    )
    expect(v1?.content).toBe(
      '{"content":{"body":"hi"},"event_id":"$abc:example.org","sender":"@a:example.org","type":"m.room.message"}',
    )
    const v10 = encodeEventForms(event, getRoomVersionRules('10'))
    expect(v10?.signed).toBe(
      '{"content":{},"hashes":{"sha256":"h"},"sender":"@a:example.org","type":"m.room.message"}',
    )
    expect(v10?.content).toBe(
      '{"content":{"body":"hi"},"sender":"@a:example.org","type":"m.room.message"}',
    )
  })

  it('keeps what each version keeps: the v12 create event loses room_id, v11 member keeps signed', () => {
    const create: JsonObject = {
      type: 'm.room.create',
      room_id: '!r:example.org',
      content: { room_version: '12', extra: 1 },
      origin: 'example.org',
    }
    expect(encodeEventForms(create, getRoomVersionRules('12'))?.signed).toBe(
      '{"content":{"extra":1,"room_version":"12"},"type":"m.room.create"}',
    )
    expect(encodeEventForms(create, getRoomVersionRules('10'))?.signed).toBe(
      '{"content":{},"origin":"example.org","room_id":"!r:example.org","type":"m.room.create"}',
    )
    const member: JsonObject = {
      type: 'm.room.member',
      content: {
        membership: 'invite',
        third_party_invite: { signed: { a: 1 }, display_name: 'x' },
      },
    }
    expect(encodeEventForms(member, getRoomVersionRules('11'))?.signed).toBe(
      '{"content":{"membership":"invite","third_party_invite":{"signed":{"a":1}}},"type":"m.room.member"}',
    )
  })

  it('gives up on keys with surrogates, whose code unit order is not code point order', () => {
    for (const key of ['\u{1f600}', 'a\u{10000}', '\ud800']) {
      const event: JsonObject = { type: 't', content: {}, [key]: 1 }
      expect(encodeEventForms(event, getRoomVersionRules('10'))).toBeUndefined()
    }
    // Below the surrogates, UTF-16 order is code point order, and escapes are written as in values.
    const event: JsonObject = {
      type: 't',
      content: { 'a"b': '\u{1f600}', 'tab\t': '\u2028\u007f\u0001' },
      '\uff61': 1,
      '\u00e9': 2,
      'back\\slash': 3,
    }
    expect(encodeEventForms(event, getRoomVersionRules('10'))).toEqual(formsOneByOne(event, '10'))
  })

  it('copies the members the forms share correctly while the slabs fill and are replaced', () => {
    const rules = getRoomVersionRules('10')
    for (let i = 0; i < 300; i++) {
      // Bodies from none to 90 KB and prev_events of 5–25 KB, so that forms start near a slab's
      // end, straddle it (the signed form then copies from the slab before) and outgrow a slab.
      const body = 'é'.repeat((i * 7919) % (i % 50 === 0 ? 90_000 : 1_500))
      const prevEvents = Array.from({ length: 500 + ((i * 613) % 2_000) }, (_, n) => `$p${n}`)
      const event: JsonObject = {
        type: 'm.room.message',
        content: { body },
        depth: i,
        hashes: { sha256: 'h' },
        origin_server_ts: 1_700_000_000_000 + i,
        prev_events: prevEvents,
        room_id: '!r:example.org',
        sender: '@a:example.org',
        zz_last: { i },
      }
      expect(encodeEventForms(event, rules)).toEqual(formsOneByOne(event, '10'))
    }
  })

  it('writes a parsed __proto__ key as data, as the one-by-one encoding does', () => {
    const event = JSON.parse('{"type":"t","content":{"__proto__":{"x":1}},"__proto__":2}')
    const forms = encodeEventForms(event, getRoomVersionRules('10'))
    expect(forms).toEqual(formsOneByOne(event, '10'))
    expect(forms?.content).toBe('{"__proto__":2,"content":{"__proto__":{"x":1}},"type":"t"}')
  })
})
