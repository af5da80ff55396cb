/**
 * Arbitrary values through the pure event API: canonical JSON, redaction, hashes and the re-signer
 * either answer or throw one of the library's typed errors, and an event the re-signer re-signs
 * keeps its content hash and event ID whatever the stored text held.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  computeContentHash,
  computeEventId,
  EventResigner,
  encodeCanonicalJson,
  generateSigningKey,
  type JsonObject,
  KNOWN_ROOM_VERSIONS,
  MatrixBackgroundUpdatesError,
  MemoryKeyProvider,
  redactEvent,
  signEvent,
} from '../../src/index.js'
import { eventArbitrary, leafPaths } from './event-arbitraries.js'

const oldKey = generateSigningKey('old')
const newKey = generateSigningKey('new')
const runs = process.env.CI === 'true' ? 2_000 : 300

/** Anything JavaScript can hold, including what JSON cannot express. */
const anything = fc.anything({
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withSparseArray: true,
  withTypedArray: true,
  withUnicodeString: true,
})

/** Room versions, known or not. */
const roomVersion = fc.oneof(fc.constantFrom(...KNOWN_ROOM_VERSIONS), fc.string(), anything)

/** Values JSON.parse can give and Matrix may refuse: floats, unsafe integers, deep nesting. */
const awkwardJson = fc.oneof(
  fc.jsonValue(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(2 ** 53, -(2 ** 53), 2 ** 64, 1e300, 0.5, -0, Number.MAX_SAFE_INTEGER),
  fc
    .integer({ min: 1, max: 400 })
    .map((depth) => JSON.parse(`${'['.repeat(depth)}${']'.repeat(depth)}`)),
)

/** Messages of errors the engine throws on its own, which the library must never let through. */
const ENGINE_MESSAGE = /^Cannot |is not (a function|iterable|a constructor)|Maximum call stack/

/**
 * Runs `work`, letting it answer or throw one of the library's errors: its typed errors, or the
 * `TypeError` and `RangeError` it documents for an argument of the wrong type or size.
 */
function typedOnly(work: () => unknown): void {
  try {
    work()
  } catch (error) {
    if (error instanceof MatrixBackgroundUpdatesError) return
    expect(error).toBeInstanceOf(error instanceof RangeError ? RangeError : TypeError)
    expect((error as Error).message).not.toMatch(ENGINE_MESSAGE)
  }
}

/** A stored event whose text a host may have changed: `value` put at one path of a signed event. */
const storedVariant = eventArbitrary(KNOWN_ROOM_VERSIONS).chain((generated) =>
  fc.record({
    generated: fc.constant(generated),
    path: fc.constantFrom(...leafPaths(generated.event)),
    value: awkwardJson,
    change: fc.boolean(),
  }),
)

function putAt(root: JsonObject, path: readonly (string | number)[], value: unknown): JsonObject {
  const copy = structuredClone(root)
  let parent = copy as Record<string | number, unknown>
  for (const step of path.slice(0, -1)) parent = parent[step] as Record<string | number, unknown>
  const last = path.at(-1)
  if (last !== undefined) parent[last] = value
  return copy
}

describe('arbitrary values', () => {
  it('are encoded as canonical JSON or refused with a CanonicalJsonError', () => {
    fc.assert(
      fc.property(anything, (value) => typedOnly(() => encodeCanonicalJson(value))),
      { numRuns: runs * 5 },
    )
  })

  it('are redacted, hashed and given event IDs, or refused with a documented error', () => {
    fc.assert(
      fc.property(anything, roomVersion, (value, version) => {
        typedOnly(() => redactEvent(value as JsonObject, version as string))
        typedOnly(() => computeContentHash(value as JsonObject))
        typedOnly(() => computeEventId(value as JsonObject, version as string))
      }),
      { numRuns: runs * 5 },
    )
  })

  it('never make the re-signer throw; each ends with one outcome', async () => {
    const resigner = new EventResigner({
      serverName: 'example.org',
      keyProvider: new MemoryKeyProvider(newKey),
    })
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ event: anything, roomVersion, eventId: anything })),
        async (batch) => {
          const outcomes = await resigner.resign(batch as never)
          expect(outcomes).toHaveLength(batch.length)
        },
      ),
      { numRuns: runs },
    )
  })
})

describe('an event the re-signer re-signs from arbitrary stored text', () => {
  it('keeps its content hash, its hashes and its event ID', async () => {
    const keyProvider = new MemoryKeyProvider(oldKey)
    keyProvider.rotate(newKey, 1_700_000_000_000)
    let resignedCount = 0
    await fc.assert(
      fc.asyncProperty(storedVariant, async ({ generated, path, value, change }) => {
        const { roomVersion: version, serverName, event } = generated
        const signed = (await signEvent(event, version, serverName, oldKey)) as JsonObject
        const eventId =
          version === '1' || version === '2'
            ? (signed.event_id as string)
            : computeEventId(signed, version)
        const storedText = JSON.stringify(change ? putAt(signed, path, value) : signed)
        const stored = JSON.parse(storedText) as JsonObject
        const resigner = new EventResigner({ serverName, keyProvider })

        const [outcome] = await resigner.resign([{ event: stored, roomVersion: version, eventId }])

        if (outcome?.status !== 'resigned') return
        resignedCount++
        expect(outcome.event.hashes).toEqual(stored.hashes)
        expect(computeContentHash(outcome.event)).toBe(computeContentHash(signed))
        if (version !== '1' && version !== '2') {
          expect(computeEventId(outcome.event, version)).toBe(eventId)
        }
      }),
      { numRuns: runs },
    )
    // Some runs reached the signing path, not only refusals.
    expect(resignedCount).toBeGreaterThan(0)
  })
})
