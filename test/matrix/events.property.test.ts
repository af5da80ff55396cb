import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  computeContentHash,
  computeEventId,
  eventNeedsResigning,
  generateSigningKey,
  type JsonObject,
  type JsonValue,
  KNOWN_ROOM_VERSIONS,
  redactEvent,
  resignEvent,
  signEvent,
  verifyEventSignature,
} from '../../src/index.js'
import {
  changeAt,
  DERIVED_ID_VERSIONS,
  deepFreeze,
  eventArbitrary,
  leafPaths,
} from './event-arbitraries.js'

const oldKey = generateSigningKey('old')
const newKey = generateSigningKey('new')
const anyEvent = eventArbitrary(KNOWN_ROOM_VERSIONS)

/** The part of a signed event its signature covers, as paths into the event. */
function signedPaths(event: JsonObject, roomVersion: string): (string | number)[][] {
  const { signatures: _signatures, ...covered } = redactEvent(event, roomVersion)
  return leafPaths(covered).filter((path) => {
    const value = path.reduce<JsonValue>(
      (node, step) => (node as JsonObject)[step] as JsonValue,
      covered,
    )
    const emptyObject =
      typeof value === 'object' &&
      value !== null &&
      !Array.isArray(value) &&
      Object.keys(value).length === 0
    return !emptyObject
  })
}

describe('event signatures, for any event of any room version', () => {
  it('verify once signed', async () => {
    await fc.assert(
      fc.asyncProperty(anyEvent, async ({ roomVersion, serverName, event }) => {
        const signed = await signEvent(event, roomVersion, serverName, oldKey)

        expect(await verifyEventSignature(signed, roomVersion, serverName, oldKey.verifyKey)).toBe(
          true,
        )
      }),
    )
  })

  it('fail once any value that survives redaction changes', async () => {
    await fc.assert(
      fc.asyncProperty(anyEvent, fc.nat(), async ({ roomVersion, serverName, event }, pick) => {
        const signed = (await signEvent(event, roomVersion, serverName, oldKey)) as JsonObject
        const paths = signedPaths(signed, roomVersion)
        const path = paths[pick % paths.length] as (string | number)[]

        const tampered = changeAt(signed, path)

        expect(
          await verifyEventSignature(tampered, roomVersion, serverName, oldKey.verifyKey),
        ).toBe(false)
      }),
    )
  })

  it('still verify when content that redaction removes changes', async () => {
    await fc.assert(
      fc.asyncProperty(anyEvent, async ({ roomVersion, serverName, event }) => {
        const signed = (await signEvent(event, roomVersion, serverName, oldKey)) as JsonObject
        const content = signed.content as JsonObject

        const edited = { ...signed, content: { ...content, 'x-unprotected': 'edited' } }

        expect(await verifyEventSignature(edited, roomVersion, serverName, oldKey.verifyKey)).toBe(
          signed.type !== 'm.room.create' || Number(roomVersion) < 11,
        )
      }),
    )
  })
})

describe('re-signing, for any event of any room version', () => {
  it('keeps the content hash and leaves one signature of ours that verifies', async () => {
    await fc.assert(
      fc.asyncProperty(anyEvent, async ({ roomVersion, serverName, event }) => {
        const signed = (await signEvent(event, roomVersion, serverName, oldKey)) as JsonObject

        const resigned = await resignEvent(signed, { roomVersion, serverName, signingKey: newKey })

        expect(computeContentHash(resigned)).toBe(computeContentHash(signed))
        expect(Object.keys(resigned.signatures[serverName] ?? {})).toEqual([newKey.keyId])
        expect(
          await verifyEventSignature(resigned, roomVersion, serverName, newKey.verifyKey),
        ).toBe(true)
      }),
    )
  })

  it('keeps the event ID from room version 3', async () => {
    await fc.assert(
      fc.asyncProperty(
        eventArbitrary(DERIVED_ID_VERSIONS),
        async ({ roomVersion, serverName, event }) => {
          const signed = (await signEvent(event, roomVersion, serverName, oldKey)) as JsonObject

          const resigned = await resignEvent(signed, {
            roomVersion,
            serverName,
            signingKey: newKey,
          })

          expect(computeEventId(resigned, roomVersion)).toBe(computeEventId(signed, roomVersion))
        },
      ),
    )
  })
})

describe('no function of the event API', () => {
  it('changes its input', async () => {
    await fc.assert(
      fc.asyncProperty(anyEvent, async ({ roomVersion, serverName, event }) => {
        const signed = (await signEvent(event, roomVersion, serverName, oldKey)) as JsonObject
        const before = structuredClone(signed)
        deepFreeze(signed)

        redactEvent(signed, roomVersion)
        computeContentHash(signed)
        if (Number(roomVersion) >= 3) computeEventId(signed, roomVersion)
        eventNeedsResigning(signed, serverName, newKey)
        await verifyEventSignature(signed, roomVersion, serverName, oldKey.verifyKey)
        await signEvent(signed, roomVersion, serverName, newKey)
        await resignEvent(signed, { roomVersion, serverName, signingKey: newKey })

        expect(signed).toStrictEqual(before)
      }),
    )
  })
})
