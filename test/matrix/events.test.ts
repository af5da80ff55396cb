import { describe, expect, it } from 'vitest'
import {
  CanonicalJsonError,
  computeContentHash,
  computeEventId,
  computeEventReferenceHash,
  decodeSigningKeyBase64,
  EventIdNotDerivedError,
  eventNeedsResigning,
  generateSigningKey,
  getRoomVersionRules,
  KNOWN_ROOM_VERSIONS,
  MalformedEventError,
  redactEvent,
  resignEvent,
  senderServerName,
  signEvent,
  UnknownRoomVersionError,
  verifyEventSignature,
} from '../../src/index.js'

/** Synapse's published test key (tests/crypto/test_event_signing.py). */
const seed = 'YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1'
const key = decodeSigningKeyBase64('ed25519', '1', seed)

/** A room version 10 PDU published with Synapse's Rust event utilities, and its event IDs. */
const pdu = {
  auth_events: [
    '$gbHO7IPUHybc7ULFnT7P0r3iWlZFHGmr6zBfEYCUyKw',
    '$hy1eZFYcgNxMFNNBgCD5fyOzyWRcBkxfNcrUI5ZpZlE',
    '$Nt_z68EwFfPqBeHjzEHGsp461Z4EfNEzR-KH5bOYdOY',
  ],
  prev_events: ['$4FbpZrgPQTwoLD9H5y7jcikucCypUOn78mXhQX7WliY'],
  type: 'm.room.message',
  room_id: '!DHmIIVvxFASSFgDGzr:localhost:8008',
  sender: '@tester_b:localhost:8008',
  content: { msgtype: 'm.text', body: 'invited people can see history', 'm.mentions': {} },
  depth: 24,
  origin: 'localhost:8008',
  origin_server_ts: 1731769874137,
  hashes: { sha256: 'FoYV1w3TW/B2mVT0gX2/BZKpCwrrvGXqXFdUhN9LZYU' },
  signatures: {
    'localhost:8008': {
      'ed25519:a_phSE':
        'G8cfk/m97sndxMNrEZ2nMMSXkVeJE05G7if4JiVzAwGfD3TwnF/jfSHt2acWrpNqv/aEhZug3WLofc2id+rVBw',
    },
  },
  unsigned: { age_ts: 1731769874137 },
}

describe("Synapse's published vectors", () => {
  it('gives the minimal version 1 event its published content hash and signature', async () => {
    const event = {
      event_id: '$0:domain',
      origin_server_ts: 1000000,
      signatures: {},
      type: 'X',
      content: {},
      unsigned: { age_ts: 1000000 },
    }

    const signed = await signEvent(event, '1', 'domain', key)

    expect(signed.hashes.sha256).toBe('mq4QfPPpC+QsBd6eqfVsmJIEz8uvMSVK0+AU67PLESk')
    expect(signed.signatures.domain?.['ed25519:1']).toBe(
      '18rGIkd4JJXxw9m+1j3BtN+TmqmLip4VHvFbyXLngpBLXOqbxlQViQABRzep2cODQ2aa5FnFgz+Llt2P03WiAw',
    )
    expect(signed.unsigned).toEqual({ age_ts: 1000000 })
    expect(await verifyEventSignature(signed, '1', 'domain', key.verifyKey)).toBe(true)
  })

  it('gives the version 1 message event its published content hash and signature', async () => {
    const event = {
      content: { body: 'Here is the message content' },
      event_id: '$0:domain',
      origin_server_ts: 1000000,
      type: 'm.room.message',
      room_id: '!r:domain',
      sender: '@u:domain',
      signatures: {},
      unsigned: { age_ts: 1000000 },
    }

    const signed = await signEvent(event, '1', 'domain', key)

    expect(signed.hashes.sha256).toBe('rDCeYBepPlI891h/RkI2/Lkf9bt7u0TxFku4tMs7WKk')
    expect(signed.signatures.domain?.['ed25519:1']).toBe(
      'Ay4aj2b5oJ1k8INYZ9n3KnszCflM0emwcmQQ7vxpbdcSv9bkJxIZdWX1IJllcZLq89+D3sSabE+vqPtZs9akDw',
    )
  })

  it('derives the published event ID of a version 10 PDU, redacted or not', () => {
    const expected = '$zRz9jjiT9wZc3Hl9ij_74aCmTjqV3YMlj9sj3Uqxg6o'

    expect(computeEventId(pdu, '10')).toBe(expected)
    expect(computeEventId(redactEvent(pdu, '10'), '10')).toBe(expected)
    expect(computeEventReferenceHash(pdu, '10')).toBe(expected.slice(1))
  })

  it('writes the version 3 event ID of the same PDU in the standard alphabet', () => {
    expect(computeEventId(pdu, '3')).toBe('$zRz9jjiT9wZc3Hl9ij/74aCmTjqV3YMlj9sj3Uqxg6o')
  })

  it('reproduces the content hash of the published PDU', () => {
    expect(computeContentHash(pdu)).toBe(pdu.hashes.sha256)
  })
})

describe('event IDs', () => {
  it('refuses to derive event IDs in room versions 1 and 2', () => {
    expect(() => computeEventId(pdu, '1')).toThrow(EventIdNotDerivedError)
    expect(() => computeEventId(pdu, '2')).toThrow(EventIdNotDerivedError)
  })

  it('ignores an event_id key stored inside a version 3+ event', () => {
    const stored = { ...pdu, event_id: '$zRz9jjiT9wZc3Hl9ij_74aCmTjqV3YMlj9sj3Uqxg6o' }

    expect(computeEventId(stored, '10')).toBe(computeEventId(pdu, '10'))
  })

  it('counts the event_id of a version 1 event in its reference hash', () => {
    const a = { ...pdu, event_id: '$a:localhost:8008' }
    const b = { ...pdu, event_id: '$b:localhost:8008' }

    expect(computeEventReferenceHash(a, '1')).not.toBe(computeEventReferenceHash(b, '1'))
  })

  it('uses the standard alphabet for version 1 reference hashes', () => {
    expect(computeEventReferenceHash(pdu, '1')).toMatch(/^[A-Za-z0-9+/]{43}$/)
  })

  it('does not change with content that redaction removes', () => {
    const edited = { ...pdu, content: { ...pdu.content, body: 'edited' } }

    expect(computeEventId(edited, '10')).toBe(computeEventId(pdu, '10'))
    expect(computeContentHash(edited)).not.toBe(computeContentHash(pdu))
  })

  it('refuses a redacted form that canonical JSON cannot express', () => {
    const lossy = { ...pdu, depth: 2 ** 53 }

    expect(() => computeEventId(lossy, '10')).toThrow(CanonicalJsonError)
  })
})

describe('room versions', () => {
  it('knows exactly the versions 1 to 12', () => {
    expect(KNOWN_ROOM_VERSIONS).toEqual([
      '1',
      '2',
      '3',
      '4',
      '5',
      '6',
      '7',
      '8',
      '9',
      '10',
      '11',
      '12',
    ])
  })

  it('refuses unknown and unstable room versions with a typed error', () => {
    for (const version of ['0', '13', 'org.matrix.hydra.11', '', ' 10']) {
      expect(() => getRoomVersionRules(version)).toThrow(UnknownRoomVersionError)
      expect(() => redactEvent(pdu, version)).toThrow(UnknownRoomVersionError)
      expect(() => computeContentHash(pdu)).not.toThrow()
    }
  })

  it('gives the unknown room version error a stable code', () => {
    expect(() => computeEventId(pdu, '13')).toThrow(
      expect.objectContaining({ code: 'ERR_UNKNOWN_ROOM_VERSION', roomVersion: '13' }),
    )
  })

  it('refuses a room version that is not a string', () => {
    expect(() => getRoomVersionRules(10 as unknown as string)).toThrow(UnknownRoomVersionError)
  })
})

describe('signEvent and verifyEventSignature', () => {
  const event = {
    type: 'm.room.message',
    room_id: '!r:example.org',
    sender: '@alice:example.org',
    content: { body: 'hello', msgtype: 'm.text' },
    depth: 3,
    prev_events: [],
    auth_events: [],
    origin_server_ts: 1700000000000,
    signatures: { 'other.example': { 'ed25519:x': 'c2lnbmF0dXJl' } },
    unsigned: { age: 4 },
  }

  it('keeps other signatures and unsigned, and adds the content hash', async () => {
    const signed = await signEvent(event, '10', 'example.org', key)

    expect(signed.signatures['other.example']).toEqual({ 'ed25519:x': 'c2lnbmF0dXJl' })
    expect(signed.unsigned).toEqual({ age: 4 })
    expect(signed.hashes.sha256).toBe(computeContentHash({ ...event, hashes: {} }))
  })

  it('leaves its input unchanged', async () => {
    const copy = structuredClone(event)

    await signEvent(event, '10', 'example.org', key)

    expect(event).toEqual(copy)
  })

  it('verifies after redaction, since the signature covers the redacted event', async () => {
    const signed = await signEvent(event, '10', 'example.org', key)

    const redacted = redactEvent(signed, '10')

    expect(await verifyEventSignature(redacted, '10', 'example.org', key.verifyKey)).toBe(true)
  })

  it('fails for a change that survives redaction', async () => {
    const signed = await signEvent(event, '10', 'example.org', key)

    const moved = { ...signed, depth: 4 }

    expect(await verifyEventSignature(moved, '10', 'example.org', key.verifyKey)).toBe(false)
  })

  it('answers false for missing, undecodable and short signatures', async () => {
    const signed = await signEvent(event, '10', 'example.org', key)
    const withSignature = (value: string) => ({
      ...signed,
      signatures: { 'example.org': { 'ed25519:1': value } },
    })

    const verify = (candidate: object) =>
      verifyEventSignature(candidate, '10', 'example.org', key.verifyKey)

    expect(await verify({ ...signed, signatures: {} })).toBe(false)
    expect(await verify(withSignature('!!!'))).toBe(false)
    expect(await verify(withSignature('AAAA'))).toBe(false)
  })

  it('answers false for an event whose redacted form cannot be encoded', async () => {
    const signed = await signEvent(event, '10', 'example.org', key)

    expect(
      await verifyEventSignature({ ...signed, depth: 1.5 }, '10', 'example.org', key.verifyKey),
    ).toBe(false)
    expect(
      await verifyEventSignature({ ...signed, content: 'x' }, '10', 'example.org', key.verifyKey),
    ).toBe(false)
  })

  it('rejects only for an input that is not an object or an unknown room version', async () => {
    await expect(verifyEventSignature([], '10', 'example.org', key.verifyKey)).rejects.toThrow(
      TypeError,
    )
    await expect(verifyEventSignature(event, '99', 'example.org', key.verifyKey)).rejects.toThrow(
      UnknownRoomVersionError,
    )
  })

  it('does not count an event_id stored in a version 3+ event in the signature', async () => {
    const signed = await signEvent(event, '10', 'example.org', key)

    const stored = { ...signed, event_id: computeEventId(signed, '10') }

    expect(await verifyEventSignature(stored, '10', 'example.org', key.verifyKey)).toBe(true)
    expect((await signEvent(stored, '10', 'example.org', key)).signatures).toEqual(
      signed.signatures,
    )
  })

  it('refuses a malformed event when signing', async () => {
    await expect(signEvent({ type: 'X' }, '10', 'example.org', key)).rejects.toThrow(
      MalformedEventError,
    )
  })
})

describe('eventNeedsResigning', () => {
  const event = {
    type: 'm.room.message',
    sender: '@u:domain',
    content: {},
    signatures: { domain: { 'ed25519:1': 'x' } },
  }

  it('is true for our event without a signature by the current key id', () => {
    expect(eventNeedsResigning(event, 'domain', 'ed25519:2')).toBe(true)
  })

  it('is false for our event signed by the current key id', () => {
    expect(eventNeedsResigning(event, 'domain', key)).toBe(false)
    expect(eventNeedsResigning(event, 'domain', key.verifyKey)).toBe(false)
  })

  it('is false for an event of another server', () => {
    expect(eventNeedsResigning({ ...event, sender: '@u:other' }, 'domain', 'ed25519:2')).toBe(false)
  })

  it('takes the server name after the first colon, ports and IPv6 literals included', () => {
    const ipv6 = { ...event, sender: '@a:[::1]:8448' }

    expect(senderServerName('@a:[::1]:8448')).toBe('[::1]:8448')
    expect(eventNeedsResigning(ipv6, '[::1]:8448', 'ed25519:2')).toBe(true)
    expect(eventNeedsResigning(ipv6, '[::1]', 'ed25519:2')).toBe(false)
    expect(eventNeedsResigning({ ...event, sender: '@u:domain:8448' }, 'domain', 'ed25519:2')).toBe(
      false,
    )
  })

  it('is false for a sender that is not a user ID', () => {
    expect(senderServerName('u:domain')).toBeUndefined()
    expect(eventNeedsResigning({ ...event, sender: 42 }, 'domain', 'ed25519:2')).toBe(false)
  })

  it('refuses a key id that is not ed25519:<version>', () => {
    expect(() => eventNeedsResigning(event, 'domain', 'rsa:1')).toThrow(/ed25519/)
  })
})

describe('resignEvent', () => {
  const newKey = generateSigningKey('2')
  const base = {
    content: { body: 'Here is the message content' },
    event_id: '$fffff:domain',
    origin_server_ts: 1000000,
    type: 'm.room.message',
    room_id: '!r:domain',
    sender: '@u:domain',
    signatures: {},
    unsigned: { age_ts: 1000000 },
  }

  it('leaves exactly one signature of ours, by the new key, and keeps the rest', async () => {
    const signed = await signEvent(
      { ...base, signatures: { other: { 'ed25519:o': 'sig' } } },
      '1',
      'domain',
      key,
    )

    const resigned = await resignEvent(signed, {
      roomVersion: '1',
      serverName: 'domain',
      signingKey: newKey,
    })

    expect(Object.keys(resigned.signatures.domain ?? {})).toEqual(['ed25519:2'])
    expect(resigned.signatures.other).toEqual({ 'ed25519:o': 'sig' })
    expect(resigned.hashes).toEqual(signed.hashes)
    expect(resigned.unsigned).toEqual(signed.unsigned)
    expect(await verifyEventSignature(resigned, '1', 'domain', newKey.verifyKey)).toBe(true)
  })

  it('signs an event that had no signature of ours', async () => {
    const resigned = await resignEvent(base, {
      roomVersion: '1',
      serverName: 'domain',
      signingKey: newKey,
    })

    expect(Object.keys(resigned.signatures.domain ?? {})).toEqual(['ed25519:2'])
  })

  it('keeps the event ID and content hash of a version 10 event', async () => {
    const resigned = await resignEvent(pdu, {
      roomVersion: '10',
      serverName: 'localhost:8008',
      signingKey: newKey,
    })

    expect(computeEventId(resigned, '10')).toBe(computeEventId(pdu, '10'))
    expect(computeContentHash(resigned)).toBe(pdu.hashes.sha256)
    expect(resigned.signatures['localhost:8008']).not.toHaveProperty('ed25519:a_phSE')
  })

  it('refuses a signing key that is not one', async () => {
    await expect(
      resignEvent(base, {
        roomVersion: '1',
        serverName: 'domain',
        signingKey: {} as typeof newKey,
      }),
    ).rejects.toThrow(expect.objectContaining({ code: 'ERR_SIGNER' }))
  })
})
