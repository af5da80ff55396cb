import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { RoomCurrentState, StateEvent } from '../../src/jobs/room-state.js'
import { computeRoomStats, plainTextTopic } from '../../src/jobs/room-stats.js'
import type { JsonObject } from '../../src/matrix/canonical-json.js'
import { MatrixBackgroundUpdatesError, RoomStateError } from '../../src/matrix/errors.js'

const ROOM = '!room:example.org'

function state(type: string, stateKey: string, content: JsonObject): StateEvent {
  return { type, state_key: stateKey, sender: '@creator:example.org', content }
}

function member(userId: string, membership: string, extra: JsonObject = {}): StateEvent {
  return state('m.room.member', userId, { membership, ...extra })
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

const fullRoom = room(
  state('m.room.create', '', { room_version: '11', type: 'm.space' }),
  state('m.room.name', '', { name: 'Garden' }),
  state('m.room.topic', '', { topic: 'Plants and soil' }),
  state('m.room.canonical_alias', '', { alias: '#garden:example.org' }),
  state('m.room.avatar', '', { url: 'mxc://example.org/leaf' }),
  state('m.room.join_rules', '', { join_rule: 'knock' }),
  state('m.room.history_visibility', '', { history_visibility: 'shared' }),
  state('m.room.encryption', '', { algorithm: 'm.megolm.v1.aes-sha2' }),
  state('m.room.guest_access', '', { guest_access: 'can_join' }),
  state('m.room.power_levels', '', { users: { '@alice:example.org': 100 } }),
  member('@alice:example.org', 'join'),
  member('@bob:example.org:8448', 'join'),
  member('@carol:remote.test', 'join'),
  member('@dave:example.org', 'invite'),
  member('@erin:remote.test', 'leave'),
  member('@frank:remote.test', 'ban'),
  member('@grace:example.org', 'knock'),
)

describe('computeRoomStats on a complete room', () => {
  it('writes the room_stats_current row: member counts, local joined users, state size', () => {
    expect(computeRoomStats(fullRoom, 'example.org').current).toEqual({
      room_id: ROOM,
      current_state_events: 17,
      joined_members: 3,
      invited_members: 1,
      left_members: 1,
      banned_members: 1,
      knocked_members: 1,
      local_users_in_room: 1,
    })
  })

  it('writes the room_stats_state row with every summary field and guest_access', () => {
    expect(computeRoomStats(fullRoom, 'example.org').state).toEqual({
      room_id: ROOM,
      name: 'Garden',
      topic: 'Plants and soil',
      canonical_alias: '#garden:example.org',
      avatar: 'mxc://example.org/leaf',
      join_rules: 'knock',
      history_visibility: 'shared',
      encryption: 'm.megolm.v1.aes-sha2',
      room_type: 'm.space',
      guest_access: 'can_join',
      is_federatable: true,
    })
  })

  it('gives nulls, zero counts and a federatable room for an empty state', () => {
    expect(computeRoomStats(room(), 'example.org')).toEqual({
      current: {
        room_id: ROOM,
        current_state_events: 0,
        joined_members: 0,
        invited_members: 0,
        left_members: 0,
        banned_members: 0,
        knocked_members: 0,
        local_users_in_room: 0,
      },
      state: {
        room_id: ROOM,
        name: null,
        topic: null,
        canonical_alias: null,
        avatar: null,
        join_rules: null,
        history_visibility: null,
        encryption: null,
        room_type: null,
        guest_access: null,
        is_federatable: true,
      },
    })
  })
})

describe('computeRoomStats decides which members are local by the whole server name', () => {
  const members = room(
    member('@alice:example.org', 'join'),
    member('@bob:example.org:8448', 'join'),
    member('@carol:[::1]:8448', 'join'),
    member('@dave:[::1]', 'join'),
    member('@erin:[::1]:8448', 'invite'),
    member('@frank:sub.example.org', 'join'),
    member('@no-colon', 'join'),
  )

  it.each([
    ['a bare host name', 'example.org', 1],
    ['a host name with a port', 'example.org:8448', 1],
    ['an IPv6 literal with a port', '[::1]:8448', 1],
    ['an IPv6 literal without a port', '[::1]', 1],
    ['a parent domain of a member', 'org', 0],
  ])(
    'counts one local joined user for %s only when it matches whole',
    (_, serverName, expected) => {
      const { current } = computeRoomStats(members, serverName)

      expect(current.local_users_in_room).toBe(expected)
      expect(current.joined_members).toBe(6)
    },
  )

  it('treats everything after the first colon as the server name', () => {
    const { current } = computeRoomStats(room(member('@a:b:example.org', 'join')), 'b:example.org')

    expect(current.local_users_in_room).toBe(1)
  })

  it('does not count invited, left, banned or knocking local users as local joined users', () => {
    const { current } = computeRoomStats(
      room(
        member('@a:example.org', 'invite'),
        member('@b:example.org', 'leave'),
        member('@c:example.org', 'ban'),
        member('@d:example.org', 'knock'),
      ),
      'example.org',
    )

    expect(current.local_users_in_room).toBe(0)
  })
})

describe('computeRoomStats counts members', () => {
  it('counts a membership outside the five kinds in none of them, but in the state size', () => {
    const { current } = computeRoomStats(
      room(member('@a:example.org', 'join'), member('@b:example.org', 'unknown')),
      'example.org',
    )

    expect(current.joined_members).toBe(1)
    expect(current.current_state_events).toBe(2)
    expect(current.invited_members + current.left_members + current.banned_members).toBe(0)
    expect(current.knocked_members).toBe(0)
  })

  it('counts every state event, whatever its type or state key', () => {
    const { current } = computeRoomStats(
      room(
        state('m.room.name', 'not-room-wide', { name: 'x' }),
        state('org.example.custom', '', {}),
        state('org.example.custom', 'other', {}),
      ),
      'example.org',
    )

    expect(current.current_state_events).toBe(3)
  })
})

describe('computeRoomStats reads the summary only from events with an empty state key', () => {
  it('ignores a name, topic and create event whose state key is not empty', () => {
    const { state: summary } = computeRoomStats(
      room(
        state('m.room.name', 'x', { name: 'Wrong' }),
        state('m.room.topic', 'x', { topic: 'Wrong' }),
        state('m.room.create', 'x', { 'm.federate': false, type: 'm.space' }),
      ),
      'example.org',
    )

    expect(summary.name).toBeNull()
    expect(summary.topic).toBeNull()
    expect(summary.room_type).toBeNull()
    expect(summary.is_federatable).toBe(true)
  })
})

describe('computeRoomStats turns values that are not clean strings into null', () => {
  const fields: [string, string, string, keyof ReturnType<typeof computeRoomStats>['state']][] = [
    ['m.room.name', 'name', 'name', 'name'],
    ['m.room.topic', 'topic', 'topic', 'topic'],
    ['m.room.canonical_alias', 'alias', 'alias', 'canonical_alias'],
    ['m.room.avatar', 'url', 'url', 'avatar'],
    ['m.room.join_rules', 'join_rule', 'join_rule', 'join_rules'],
    ['m.room.history_visibility', 'history_visibility', 'history_visibility', 'history_visibility'],
    ['m.room.encryption', 'algorithm', 'algorithm', 'encryption'],
    ['m.room.create', 'type', 'type', 'room_type'],
    ['m.room.guest_access', 'guest_access', 'guest_access', 'guest_access'],
  ]

  it.each(fields)('keeps a clean string of %s %s', (type, key, _, column) => {
    const { state: summary } = computeRoomStats(room(state(type, '', { [key]: 'ok' })), 'x.org')

    expect(summary[column]).toBe('ok')
  })

  it.each(fields)('nulls a string of %s %s that holds U+0000', (type, key, _, column) => {
    const event = state(type, '', { [key]: 'bad\u0000value' })

    expect(computeRoomStats(room(event), 'x.org').state[column]).toBeNull()
  })

  it.each(fields)(
    'nulls %s %s when it is a number, a boolean, null, an array or an object',
    (type, key, _, column) => {
      for (const value of [42, true, null, ['ok'], { ok: 'ok' }]) {
        const event = state(type, '', { [key]: value })

        expect(computeRoomStats(room(event), 'x.org').state[column]).toBeNull()
      }
    },
  )

  it.each(fields)('nulls %s %s when the field is absent', (type, _key, _, column) => {
    expect(computeRoomStats(room(state(type, '', {})), 'x.org').state[column]).toBeNull()
  })

  it('keeps an empty string, which is a string without U+0000', () => {
    expect(computeRoomStats(room(state('m.room.name', '', { name: '' })), 'x.org').state.name).toBe(
      '',
    )
  })
})

describe('computeRoomStats decides is_federatable from m.federate', () => {
  it.each([
    ['absent', {}, true],
    ['true', { 'm.federate': true }, true],
    ['false', { 'm.federate': false }, false],
    ['the string "true"', { 'm.federate': 'true' }, false],
    ['the number 1', { 'm.federate': 1 }, false],
    ['null', { 'm.federate': null }, false],
    ['an object', { 'm.federate': {} }, false],
  ] as [string, JsonObject, boolean][])('is %s → %s', (_, content, expected) => {
    const { state: summary } = computeRoomStats(room(state('m.room.create', '', content)), 'x.org')

    expect(summary.is_federatable).toBe(expected)
  })

  it('is true when the room has no create event', () => {
    expect(computeRoomStats(room(), 'x.org').state.is_federatable).toBe(true)
  })
})

describe('plainTextTopic reads m.room.topic content as Synapse does', () => {
  const html = { mimetype: 'text/html', body: '<b>rich</b>' }

  it.each([
    ['only topic', { topic: 'legacy' }, 'legacy'],
    ['no topic at all', {}, null],
    ['a topic that is not a string', { topic: 7 }, null],
    [
      'm.topic but no topic',
      { 'm.topic': { 'm.text': [{ mimetype: 'text/plain', body: 'rich' }] } },
      null,
    ],
    ['an empty m.text', { topic: 'legacy', 'm.topic': { 'm.text': [] } }, 'legacy'],
    ['only an HTML representation', { topic: 'legacy', 'm.topic': { 'm.text': [html] } }, 'legacy'],
    [
      'an explicit text/plain representation',
      { topic: 'legacy', 'm.topic': { 'm.text': [{ mimetype: 'text/plain', body: 'plain' }] } },
      'plain',
    ],
    [
      'a representation without mimetype',
      { topic: 'legacy', 'm.topic': { 'm.text': [{ body: 'implicit' }] } },
      'implicit',
    ],
    [
      'a representation with a null mimetype',
      { topic: 'legacy', 'm.topic': { 'm.text': [{ mimetype: null, body: 'nullmime' }] } },
      'nullmime',
    ],
    [
      'a representation with an empty mimetype',
      { topic: 'legacy', 'm.topic': { 'm.text': [{ mimetype: '', body: 'emptymime' }] } },
      'emptymime',
    ],
    [
      'a mimetype with parameters, which is not text/plain',
      {
        topic: 'legacy',
        'm.topic': { 'm.text': [{ mimetype: 'text/plain; charset=utf-8', body: 'x' }] },
      },
      'legacy',
    ],
    [
      'HTML first and plain text second',
      {
        topic: 'legacy',
        'm.topic': { 'm.text': [html, { mimetype: 'text/plain', body: 'second' }] },
      },
      'second',
    ],
    [
      'an invalid body first and a valid one second',
      { topic: 'legacy', 'm.topic': { 'm.text': [{ body: 1337 }, { body: 'valid' }] } },
      'valid',
    ],
    [
      'a mimetype that is not a string',
      { topic: 'legacy', 'm.topic': { 'm.text': [{ mimetype: 5, body: 'x' }, { body: 'next' }] } },
      'next',
    ],
    [
      'a representation that is not an object',
      { topic: 'legacy', 'm.topic': { 'm.text': ['plain', { body: 'object' }] } },
      'object',
    ],
    ['m.text that is not an array', { topic: 'legacy', 'm.topic': { 'm.text': 'x' } }, 'legacy'],
    ['m.text that is null', { topic: 'legacy', 'm.topic': { 'm.text': null } }, 'legacy'],
    ['m.topic that is a string', { topic: 'legacy', 'm.topic': 'rich' }, 'legacy'],
    ['m.topic without m.text', { topic: 'legacy', 'm.topic': {} }, 'legacy'],
    ['an empty plain-text body', { topic: 'legacy', 'm.topic': { 'm.text': [{ body: '' }] } }, ''],
  ] as [string, JsonObject, string | null][])('with %s gives %j', (_, content, expected) => {
    expect(plainTextTopic(content)).toBe(expected)
  })

  it('nulls a chosen m.topic body holding U+0000 rather than falling back to topic', () => {
    const content = { topic: 'legacy', 'm.topic': { 'm.text': [{ body: 'a\u0000b' }] } }

    expect(
      computeRoomStats(room(state('m.room.topic', '', content)), 'x.org').state.topic,
    ).toBeNull()
  })

  it('takes the m.topic plain text into room_stats_state', () => {
    const content = { topic: 'legacy', 'm.topic': { 'm.text': [html, { body: 'plain' }] } }

    expect(computeRoomStats(room(state('m.room.topic', '', content)), 'x.org').state.topic).toBe(
      'plain',
    )
  })
})

describe('computeRoomStats refuses input it cannot read', () => {
  it.each([
    ['not an object', 'room'],
    ['null', null],
    ['without roomId', { stateEvents: [] }],
    ['with a roomId that is not a string', { roomId: 1, stateEvents: [] }],
    ['without stateEvents', { roomId: ROOM }],
    ['with stateEvents that is an object', { roomId: ROOM, stateEvents: {} }],
  ])('throws a TypeError for input %s', (_, input) => {
    expect(() => computeRoomStats(input as unknown as RoomCurrentState, 'x.org')).toThrow(TypeError)
  })

  it.each([[''], [undefined], [42]])('throws a TypeError for the server name %j', (serverName) => {
    expect(() => computeRoomStats(room(), serverName as unknown as string)).toThrow(TypeError)
  })

  it.each([
    ['an event that is not an object', ['m.room.name'], 'stateEvents[0]'],
    [
      'a type that is not a string',
      [{ type: 1, state_key: '', content: {} }],
      'stateEvents[0].type',
    ],
    [
      'a state key that is missing',
      [{ type: 'm.room.name', content: {} }],
      'stateEvents[0].state_key',
    ],
    [
      'content that is an array',
      [{ type: 'm.room.name', state_key: '', content: [] }],
      'stateEvents[0].content',
    ],
    [
      'a member event without membership',
      [{ type: 'm.room.member', state_key: '@a:x.org', content: {} }],
      'stateEvents[0].content.membership',
    ],
    [
      'a membership that is not a string',
      [{ type: 'm.room.member', state_key: '@a:x.org', content: { membership: 1 } }],
      'stateEvents[0].content.membership',
    ],
    [
      'a state key given twice',
      [member('@a:x.org', 'join'), member('@a:x.org', 'leave')],
      'stateEvents[1]',
    ],
  ])('throws a RoomStateError naming the path for %s', (_, stateEvents, path) => {
    const input = { roomId: ROOM, stateEvents } as unknown as RoomCurrentState

    const error = catchError(() => computeRoomStats(input, 'x.org'))

    expect(error).toBeInstanceOf(RoomStateError)
    expect(error).toBeInstanceOf(MatrixBackgroundUpdatesError)
    expect(error).toMatchObject({ code: 'ERR_ROOM_STATE', roomId: ROOM, path })
  })

  it('allows the same state key under two event types', () => {
    const input = room(state('m.room.name', '', { name: 'a' }), state('m.room.topic', '', {}))

    expect(computeRoomStats(input, 'x.org').current.current_state_events).toBe(2)
  })
})

function catchError(run: () => unknown): unknown {
  try {
    run()
  } catch (error) {
    return error
  }
  throw new Error('expected an error')
}

const MEMBERSHIPS = ['join', 'invite', 'leave', 'ban', 'knock'] as const
const SERVERS = ['example.org', 'example.org:8448', '[::1]:8448', 'remote.test']

const arbitraryMembers = fc.uniqueArray(
  fc.record({
    localpart: fc.stringMatching(/^[a-z0-9._=-]{1,8}$/),
    server: fc.constantFrom(...SERVERS),
    membership: fc.constantFrom(...MEMBERSHIPS),
  }),
  { selector: (m) => `@${m.localpart}:${m.server}`, maxLength: 30 },
)

function roomOf(members: { localpart: string; server: string; membership: string }[]) {
  return room(
    state('m.room.create', '', {}),
    ...members.map((m) => member(`@${m.localpart}:${m.server}`, m.membership)),
  )
}

describe('computeRoomStats properties', () => {
  it('counts each member event in exactly one of the five memberships', () => {
    fc.assert(
      fc.property(arbitraryMembers, (members) => {
        const { current } = computeRoomStats(roomOf(members), 'example.org')
        const sum =
          current.joined_members +
          current.invited_members +
          current.left_members +
          current.banned_members +
          current.knocked_members

        expect(sum).toBe(members.length)
        expect(current.current_state_events).toBe(members.length + 1)
      }),
    )
  })

  it('counts as local exactly the joined members of the given server', () => {
    fc.assert(
      fc.property(arbitraryMembers, fc.constantFrom(...SERVERS), (members, serverName) => {
        const expected = members.filter((m) => m.membership === 'join' && m.server === serverName)

        const { current } = computeRoomStats(roomOf(members), serverName)

        expect(current.local_users_in_room).toBe(expected.length)
        expect(current.local_users_in_room).toBeLessThanOrEqual(current.joined_members)
      }),
    )
  })

  it('never changes its input, even when the input is frozen', () => {
    fc.assert(
      fc.property(arbitraryMembers, (members) => {
        const input = roomOf(members)
        const copy = structuredClone(input)

        computeRoomStats(deepFreeze(input), 'example.org')

        expect(input).toEqual(copy)
      }),
    )
  })

  it('gives the same stats whatever the order of the state events', () => {
    const orders = arbitraryMembers.chain((members) => {
      const events = roomOf(members).stateEvents
      const length = events.length
      return fc.tuple(
        fc.constant(events),
        fc.shuffledSubarray([...events], { minLength: length, maxLength: length }),
      )
    })

    fc.assert(
      fc.property(orders, ([events, shuffled]) => {
        const result = computeRoomStats({ roomId: ROOM, stateEvents: shuffled }, 'example.org')

        expect(result).toEqual(
          computeRoomStats({ roomId: ROOM, stateEvents: events }, 'example.org'),
        )
      }),
    )
  })
})
