import { readdirSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  KNOWN_ROOM_VERSIONS,
  MalformedEventError,
  redactEvent,
  UnknownRoomVersionError,
} from '../../src/index.js'

interface Expectation {
  versions: string
  redacted: Record<string, unknown>
}

interface FixtureCase {
  name: string
  event: Record<string, unknown>
  expect: Expectation[]
}

const folder = new URL('../fixtures/redaction/', import.meta.url)

/** Each fixture file, parsed with JSON.parse so that `__proto__` keys stay data. */
const fixtures = readdirSync(folder)
  .filter((name) => name.endsWith('.json'))
  .sort()
  .map((name) => ({
    file: name,
    cases: (JSON.parse(readFileSync(new URL(name, folder), 'utf8')) as { cases: FixtureCase[] })
      .cases,
  }))

/** `"1-10"` → `["1", …, "10"]`; `"12"` → `["12"]`. */
function expandVersions(range: string): string[] {
  const [first, last = first] = range.split('-').map(Number) as [number, number?]
  return Array.from({ length: (last as number) - first + 1 }, (_, i) => String(first + i))
}

describe('the redaction fixtures', () => {
  it('are found', () => {
    expect(fixtures.map((fixture) => fixture.file)).toEqual([
      'create.json',
      'member.json',
      'state-content.json',
      'top-level-keys.json',
    ])
  })

  for (const { file, cases } of fixtures) {
    for (const fixture of cases) {
      it(`cover every room version exactly once: ${file}, ${fixture.name}`, () => {
        const covered = fixture.expect.flatMap((entry) => expandVersions(entry.versions))

        expect([...covered].sort((a, b) => Number(a) - Number(b))).toEqual(KNOWN_ROOM_VERSIONS)
      })

      for (const entry of fixture.expect) {
        for (const version of expandVersions(entry.versions)) {
          it(`redact as expected in room version ${version}: ${fixture.name}`, () => {
            expect(redactEvent(fixture.event, version)).toStrictEqual(entry.redacted)
          })
        }
      }
    }
  }
})

describe('redactEvent', () => {
  const event = {
    type: 'm.room.power_levels',
    content: { users: { '@a:b': 100 }, other: 1 },
    prev_events: ['$a'],
  }

  it('returns an object that shares nothing with its input', () => {
    const redacted = redactEvent(event, '10') as typeof event

    redacted.content.users['@a:b'] = 0
    redacted.prev_events.push('$b')

    expect(event.content.users['@a:b']).toBe(100)
    expect(event.prev_events).toEqual(['$a'])
  })

  it('leaves its input unchanged', () => {
    const copy = structuredClone(event)

    redactEvent(event, '11')

    expect(event).toEqual(copy)
  })

  it('keeps a __proto__ key of kept content as data, not as a prototype', () => {
    const parsed = JSON.parse('{"type":"m.room.create","content":{"__proto__":{"polluted":1}}}')

    const redacted = redactEvent(parsed, '11')

    expect(Object.keys(redacted.content as object)).toEqual(['__proto__'])
    expect(Object.getPrototypeOf(redacted.content)).toBe(Object.prototype)
  })

  it('is idempotent', () => {
    for (const version of KNOWN_ROOM_VERSIONS) {
      const once = redactEvent(event, version)

      expect(redactEvent(once, version)).toStrictEqual(once)
    }
  })

  it('refuses an unknown room version with a typed error', () => {
    expect(() => redactEvent(event, '13')).toThrow(UnknownRoomVersionError)
  })

  it('refuses an event without a type string or a content object', () => {
    expect(() => redactEvent({ content: {} }, '10')).toThrow(MalformedEventError)
    expect(() => redactEvent({ type: 'x', content: [] }, '10')).toThrow(
      expect.objectContaining({ code: 'ERR_MALFORMED_EVENT', path: '$.content' }),
    )
    expect(() => redactEvent({ type: 'x' }, '10')).toThrow(MalformedEventError)
  })

  it('refuses an input that is not an object', () => {
    expect(() => redactEvent(null as unknown as object, '10')).toThrow(TypeError)
    expect(() => redactEvent([] as unknown as object, '10')).toThrow(TypeError)
  })
})
