import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { RoomCurrentState, StateEvent } from '../../src/jobs/room-state.js'
import {
  computeRoomDirectoryRows,
  isRoomPublicForDirectory,
  localUserDirectoryEntry,
  type UserDirectoryOptions,
} from '../../src/jobs/user-directory.js'
import type { JsonObject } from '../../src/matrix/canonical-json.js'
import { RoomStateError } from '../../src/matrix/errors.js'

const ROOM = '!room:example.org'
const OURS: UserDirectoryOptions = { serverName: 'example.org' }

function state(type: string, stateKey: string, content: JsonObject): StateEvent {
  return { type, state_key: stateKey, sender: '@creator:example.org', content }
}

function member(userId: string, membership: string, profile: JsonObject = {}): StateEvent {
  return state('m.room.member', userId, { membership, ...profile })
}

function joinRule(rule: string): StateEvent {
  return state('m.room.join_rules', '', { join_rule: rule })
}

function visibility(value: string): StateEvent {
  return state('m.room.history_visibility', '', { history_visibility: value })
}

function room(...stateEvents: StateEvent[]): RoomCurrentState {
  return { roomId: ROOM, stateEvents }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child)
    Object.freeze(value)
  }
  return value
}

const people = [
  member('@alice:example.org', 'join', { displayname: 'Alice', avatar_url: 'mxc://example.org/a' }),
  member('@bob:example.org', 'join', { displayname: 'Bob' }),
  member('@carol:remote.test', 'join', { displayname: 'Carol', avatar_url: 'mxc://remote.test/c' }),
  member('@dave:example.org', 'invite', { displayname: 'Dave' }),
  member('@erin:remote.test', 'leave', { displayname: 'Erin' }),
  member('@frank:remote.test', 'ban'),
  member('@grace:remote.test', 'knock'),
]

const carolEntry = {
  user_id: '@carol:remote.test',
  display_name: 'Carol',
  avatar_url: 'mxc://remote.test/c',
}

describe('isRoomPublicForDirectory', () => {
  it.each([
    ['join rule public', [joinRule('public')], true],
    ['history visibility world_readable', [visibility('world_readable')], true],
    ['both', [joinRule('public'), visibility('world_readable')], true],
    ['join rule invite and history shared', [joinRule('invite'), visibility('shared')], false],
    ['join rule knock', [joinRule('knock')], false],
    ['join rule restricted', [joinRule('restricted')], false],
    ['join rule knock_restricted', [joinRule('knock_restricted')], false],
    ['join rule Public in another case', [joinRule('Public')], false],
    [
      'history visibility joined and join rule public',
      [visibility('joined'), joinRule('public')],
      true,
    ],
    ['neither event', [], false],
    [
      'a join rule that is not a string',
      [state('m.room.join_rules', '', { join_rule: ['public'] })],
      false,
    ],
    [
      'public join rules under a non-empty state key',
      [state('m.room.join_rules', 'x', { join_rule: 'public' })],
      false,
    ],
    [
      'world_readable under a non-empty state key',
      [state('m.room.history_visibility', 'x', { history_visibility: 'world_readable' })],
      false,
    ],
  ] as [string, StateEvent[], boolean][])('with %s is %s', (_, events, expected) => {
    expect(isRoomPublicForDirectory(room(...events))).toBe(expected)
  })
})

describe('computeRoomDirectoryRows for a private room', () => {
  const rows = computeRoomDirectoryRows(room(joinRule('invite'), ...people), OURS)

  it('stores (local, other) for every joined local user and every other joined user', () => {
    expect(rows.users_who_share_private_rooms).toEqual([
      { user_id: '@alice:example.org', other_user_id: '@bob:example.org', room_id: ROOM },
      { user_id: '@alice:example.org', other_user_id: '@carol:remote.test', room_id: ROOM },
      { user_id: '@bob:example.org', other_user_id: '@alice:example.org', room_id: ROOM },
      { user_id: '@bob:example.org', other_user_id: '@carol:remote.test', room_id: ROOM },
    ])
  })

  it('writes no users_in_public_rooms rows', () => {
    expect(rows.users_in_public_rooms).toEqual([])
    expect(rows.is_public).toBe(false)
    expect(rows.host_joined).toBe(true)
  })

  it('writes entries for joined remote users only, from their profile in the room', () => {
    expect(rows.user_directory).toEqual([carolEntry])
  })

  it('gives no pair with a remote user first', () => {
    const remoteOnly = computeRoomDirectoryRows(
      room(
        member('@a:example.org', 'join'),
        member('@b:remote.test', 'join'),
        member('@c:remote.test', 'join'),
      ),
      OURS,
    )

    expect(remoteOnly.users_who_share_private_rooms).toEqual([
      { user_id: '@a:example.org', other_user_id: '@b:remote.test', room_id: ROOM },
      { user_id: '@a:example.org', other_user_id: '@c:remote.test', room_id: ROOM },
    ])
  })
})

describe('computeRoomDirectoryRows for a public room', () => {
  const everyoneJoined = [
    { user_id: '@alice:example.org', room_id: ROOM },
    { user_id: '@bob:example.org', room_id: ROOM },
    { user_id: '@carol:remote.test', room_id: ROOM },
  ]

  it('lists every joined user of a room public by its join rule, and no pairs', () => {
    const rows = computeRoomDirectoryRows(room(joinRule('public'), ...people), OURS)

    expect(rows.is_public).toBe(true)
    expect(rows.users_in_public_rooms).toEqual(everyoneJoined)
    expect(rows.users_who_share_private_rooms).toEqual([])
    expect(rows.user_directory).toEqual([carolEntry])
  })

  it('lists every joined user of a room public by world_readable history', () => {
    const rows = computeRoomDirectoryRows(
      room(joinRule('invite'), visibility('world_readable'), ...people),
      OURS,
    )

    expect(rows.is_public).toBe(true)
    expect(rows.users_in_public_rooms).toEqual(everyoneJoined)
    expect(rows.users_who_share_private_rooms).toEqual([])
  })
})

describe('computeRoomDirectoryRows leaves excluded users out', () => {
  const excludeBob: UserDirectoryOptions = {
    serverName: 'example.org',
    isExcludedUser: (userId) => userId === '@bob:example.org',
  }

  it('drops an excluded local user from the pairs, on both sides', () => {
    const rows = computeRoomDirectoryRows(room(...people), excludeBob)

    expect(rows.users_who_share_private_rooms).toEqual([
      { user_id: '@alice:example.org', other_user_id: '@carol:remote.test', room_id: ROOM },
    ])
  })

  it('drops an excluded local user from users_in_public_rooms', () => {
    const rows = computeRoomDirectoryRows(room(joinRule('public'), ...people), excludeBob)

    expect(rows.users_in_public_rooms).toEqual([
      { user_id: '@alice:example.org', room_id: ROOM },
      { user_id: '@carol:remote.test', room_id: ROOM },
    ])
  })

  it('asks the predicate about joined local users only, as Synapse does', () => {
    const asked: string[] = []
    const options = {
      serverName: 'example.org',
      isExcludedUser: (userId: string) => {
        asked.push(userId)
        return true
      },
    }

    const rows = computeRoomDirectoryRows(room(joinRule('public'), ...people), options)

    expect(asked.sort()).toEqual(['@alice:example.org', '@bob:example.org'])
    expect(rows.users_in_public_rooms).toEqual([{ user_id: '@carol:remote.test', room_id: ROOM }])
    expect(rows.user_directory).toEqual([carolEntry])
  })

  it('still processes a room whose only joined local user is excluded', () => {
    const rows = computeRoomDirectoryRows(
      room(
        member('@bob:example.org', 'join'),
        member('@carol:remote.test', 'join', { displayname: 'Carol' }),
      ),
      excludeBob,
    )

    expect(rows.host_joined).toBe(true)
    expect(rows.users_who_share_private_rooms).toEqual([])
    expect(rows.user_directory).toEqual([
      { user_id: '@carol:remote.test', display_name: 'Carol', avatar_url: null },
    ])
  })
})

describe('computeRoomDirectoryRows passes over a room our server is not joined to', () => {
  it('writes nothing when our users are only invited, left or banned', () => {
    const rows = computeRoomDirectoryRows(
      room(
        joinRule('public'),
        member('@dave:example.org', 'invite'),
        member('@erin:example.org', 'leave'),
        member('@frank:example.org', 'ban'),
        member('@carol:remote.test', 'join'),
      ),
      OURS,
    )

    expect(rows).toEqual({
      room_id: ROOM,
      host_joined: false,
      is_public: true,
      users_in_public_rooms: [],
      users_who_share_private_rooms: [],
      user_directory: [],
    })
  })
})

describe('computeRoomDirectoryRows tells local users by the whole server name', () => {
  const members = room(
    member('@a:[::1]:8448', 'join'),
    member('@b:[::1]', 'join'),
    member('@c:example.org:8448', 'join'),
  )

  it('treats an IPv6 literal with a port as one server name', () => {
    const rows = computeRoomDirectoryRows(members, { serverName: '[::1]:8448' })

    expect(rows.users_who_share_private_rooms.map((pair) => pair.other_user_id)).toEqual([
      '@b:[::1]',
      '@c:example.org:8448',
    ])
    expect(rows.user_directory.map((entry) => entry.user_id)).toEqual([
      '@b:[::1]',
      '@c:example.org:8448',
    ])
  })

  it('treats a host with a port as another server than the host alone', () => {
    const rows = computeRoomDirectoryRows(members, { serverName: 'example.org:8448' })

    expect(rows.users_who_share_private_rooms.map((pair) => pair.user_id)).toEqual([
      '@c:example.org:8448',
      '@c:example.org:8448',
    ])
    expect(computeRoomDirectoryRows(members, { serverName: 'example.org' }).host_joined).toBe(false)
  })
})

describe('computeRoomDirectoryRows sanitises per-room profiles as Synapse does', () => {
  it.each([
    ['absent', {}, null, null],
    ['numbers', { displayname: 42, avatar_url: 7 }, null, null],
    ['null', { displayname: null, avatar_url: null }, null, null],
    ['objects and arrays', { displayname: { a: 1 }, avatar_url: ['mxc://x/y'] }, null, null],
    ['holding U+0000', { displayname: 'Ca\u0000rol', avatar_url: 'mxc://x/\u0000' }, null, null],
    ['empty strings', { displayname: '', avatar_url: '' }, '', ''],
    [
      'very long strings',
      { displayname: 'c'.repeat(300), avatar_url: 'u'.repeat(1200) },
      'c'.repeat(300),
      'u'.repeat(1200),
    ],
  ] as [string, JsonObject, string | null, string | null][])(
    'with a display name and avatar URL %s',
    (_, profile, displayName, avatarUrl) => {
      const rows = computeRoomDirectoryRows(
        room(member('@a:example.org', 'join'), member('@carol:remote.test', 'join', profile)),
        OURS,
      )

      expect(rows.user_directory).toEqual([
        { user_id: '@carol:remote.test', display_name: displayName, avatar_url: avatarUrl },
      ])
    },
  )
})

describe('localUserDirectoryEntry', () => {
  it('gives the entry of a local user from their global profile', () => {
    const profile = { displayname: 'Alice', avatar_url: 'mxc://example.org/a' }

    expect(localUserDirectoryEntry('@alice:example.org', profile, OURS)).toEqual({
      user_id: '@alice:example.org',
      display_name: 'Alice',
      avatar_url: 'mxc://example.org/a',
    })
  })

  it.each([[null], [undefined], [{}]])('gives an entry of nulls for the profile %j', (profile) => {
    expect(localUserDirectoryEntry('@alice:example.org', profile, OURS)).toEqual({
      user_id: '@alice:example.org',
      display_name: null,
      avatar_url: null,
    })
  })

  it('nulls a display name or avatar URL that is not a string or holds U+0000', () => {
    const profile = { displayname: 'A\u0000', avatar_url: 12 }

    expect(localUserDirectoryEntry('@alice:example.org', profile, OURS)).toEqual({
      user_id: '@alice:example.org',
      display_name: null,
      avatar_url: null,
    })
  })

  it('gives nothing for an excluded user', () => {
    const options = { serverName: 'example.org', isExcludedUser: () => true }

    expect(localUserDirectoryEntry('@alice:example.org', { displayname: 'A' }, options)).toBeNull()
  })

  it('accepts a user of a server with a port or an IPv6 literal', () => {
    const entry = localUserDirectoryEntry('@a:[::1]:8448', null, { serverName: '[::1]:8448' })

    expect(entry?.user_id).toBe('@a:[::1]:8448')
  })

  it.each([['@alice:remote.test'], ['@alice:example.org:8448'], ['alice'], [42]])(
    'throws a TypeError for %j, which is not one of our users',
    (userId) => {
      expect(() => localUserDirectoryEntry(userId as string, null, OURS)).toThrow(TypeError)
    },
  )

  it('throws a TypeError for a profile that is a string', () => {
    const profile = 'Alice' as unknown as null

    expect(() => localUserDirectoryEntry('@alice:example.org', profile, OURS)).toThrow(TypeError)
  })
})

describe('the directory computations refuse bad options and state', () => {
  const input = room(member('@alice:example.org', 'join'))

  it.each([
    ['a missing server name', {}],
    ['an empty server name', { serverName: '' }],
    ['a predicate that is not a function', { serverName: 'example.org', isExcludedUser: true }],
  ])('throws a TypeError for %s', (_, options) => {
    expect(() => computeRoomDirectoryRows(input, options as UserDirectoryOptions)).toThrow(
      TypeError,
    )
  })

  it('throws a TypeError when options are missing', () => {
    expect(() =>
      computeRoomDirectoryRows(input, undefined as unknown as UserDirectoryOptions),
    ).toThrow(TypeError)
  })

  it('throws a TypeError when the predicate answers with a Promise', () => {
    const options = {
      serverName: 'example.org',
      isExcludedUser: (() => Promise.resolve(false)) as unknown as (userId: string) => boolean,
    }

    expect(() => computeRoomDirectoryRows(input, options)).toThrow(/must return a boolean/)
    expect(() => localUserDirectoryEntry('@alice:example.org', null, options)).toThrow(TypeError)
  })

  it('throws a RoomStateError for a member event without membership', () => {
    const bad = room(state('m.room.member', '@alice:example.org', { displayname: 'A' }))

    expect(() => computeRoomDirectoryRows(bad, OURS)).toThrow(RoomStateError)
    expect(() => isRoomPublicForDirectory(bad)).toThrow(RoomStateError)
  })

  it('throws a TypeError for state that is not an object', () => {
    expect(() => isRoomPublicForDirectory(null as unknown as RoomCurrentState)).toThrow(TypeError)
  })
})

const SERVERS = ['example.org', 'example.org:8448', '[::1]:8448', 'remote.test']
const MEMBERSHIPS = ['join', 'invite', 'leave', 'ban', 'knock']

const arbitraryRoom = fc.record({
  members: fc.uniqueArray(
    fc.record({
      localpart: fc.stringMatching(/^[a-z0-9._=-]{1,6}$/),
      server: fc.constantFrom(...SERVERS),
      membership: fc.constantFrom(...MEMBERSHIPS),
      displayname: fc.option(fc.string(), { nil: undefined }),
      excluded: fc.boolean(),
    }),
    { selector: (m) => `@${m.localpart}:${m.server}`, maxLength: 20 },
  ),
  joinRule: fc.constantFrom('public', 'invite', 'knock', 'restricted'),
  visibility: fc.constantFrom('world_readable', 'shared', 'joined', 'invited'),
})

type ArbitraryRoom = typeof arbitraryRoom extends fc.Arbitrary<infer T> ? T : never

function build(generated: ArbitraryRoom) {
  const events = generated.members.map((m) =>
    member(
      `@${m.localpart}:${m.server}`,
      m.membership,
      m.displayname === undefined ? {} : { displayname: m.displayname },
    ),
  )
  const excluded = new Set(
    generated.members.filter((m) => m.excluded).map((m) => `@${m.localpart}:${m.server}`),
  )
  const options = { serverName: 'example.org', isExcludedUser: (id: string) => excluded.has(id) }
  const input = room(joinRule(generated.joinRule), visibility(generated.visibility), ...events)
  return { input, options }
}

describe('computeRoomDirectoryRows properties', () => {
  it('pairs each included local user with every other included user, never with themself', () => {
    fc.assert(
      fc.property(arbitraryRoom, (generated) => {
        const joined = generated.members.filter((m) => m.membership === 'join')
        const hostJoined = joined.some((m) => m.server === 'example.org')
        const included = joined.filter((m) => !(m.server === 'example.org' && m.excluded))
        const locals = included.filter((m) => m.server === 'example.org')
        const isPublic =
          generated.joinRule === 'public' || generated.visibility === 'world_readable'
        const { input, options } = build(generated)

        const rows = computeRoomDirectoryRows(input, options)

        const expectedPairs = !hostJoined || isPublic ? 0 : locals.length * (included.length - 1)
        expect(rows.users_who_share_private_rooms).toHaveLength(expectedPairs)
        expect(rows.users_in_public_rooms).toHaveLength(
          hostJoined && isPublic ? included.length : 0,
        )
        for (const pair of rows.users_who_share_private_rooms) {
          expect(pair.user_id.endsWith(':example.org')).toBe(true)
          expect(pair.user_id).not.toBe(pair.other_user_id)
        }
      }),
    )
  })

  it('writes directory entries exactly for the joined remote users of a room we are in', () => {
    fc.assert(
      fc.property(arbitraryRoom, (generated) => {
        const joined = generated.members.filter((m) => m.membership === 'join')
        const hostJoined = joined.some((m) => m.server === 'example.org')
        const remote = joined.filter((m) => m.server !== 'example.org')
        const { input, options } = build(generated)

        const rows = computeRoomDirectoryRows(input, options)

        const expected = hostJoined ? remote.map((m) => `@${m.localpart}:${m.server}`) : []
        expect(rows.user_directory.map((entry) => entry.user_id)).toEqual(expected)
      }),
    )
  })

  it('never changes its input, even when the input is frozen', () => {
    fc.assert(
      fc.property(arbitraryRoom, (generated) => {
        const { input, options } = build(generated)
        const copy = structuredClone(input)

        computeRoomDirectoryRows(deepFreeze(input), options)
        isRoomPublicForDirectory(input)

        expect(input).toEqual(copy)
      }),
    )
  })
})
