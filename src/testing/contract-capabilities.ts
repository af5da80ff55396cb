import {
  APPEND_UNDO_LOG,
  type EventsReader,
  type MemoryEventSeed,
  type RoomStatsRow,
  type StorageAdapter,
  type StorageWrite,
  UNDO_LOG_CAPABILITY,
  UPSERT_ROOM_STATS,
  USER_DIRECTORY_CAPABILITY,
  USER_DIRECTORY_OPS,
} from 'matrix-background-updates'
import type { ContractTestFunctions, WithSubject } from './adapter-contract.js'
import { contractEvent, SERVER, sorted } from './contract-helpers.js'

/** Commits `writes` as one batch of a fresh update and returns the report. */
async function commitWrites(storage: StorageAdapter, writes: StorageWrite[]) {
  const updateName = `contract_${Math.random().toString(36).slice(2)}`
  await storage.insertUpdates([{ update_name: updateName }])
  const result = await storage.commitBatch({
    updateName,
    writes,
    progress: {},
    done: true,
    leaseToken: null,
  })
  if (!result.committed) throw new Error(`the batch did not commit: ${result.reason}`)

  return result.report
}

/** The same event in a room of its own, so its room's version can differ. */
function elsewhere(seed: MemoryEventSeed): MemoryEventSeed {
  const event = seed.event as Record<string, unknown>
  return { ...seed, event: { ...event, room_id: `!elsewhere:${SERVER}` } }
}

function pageOwn(events: EventsReader, after: number, limit: number, beforeTs: number | null) {
  return events.pageOwnEvents({ serverName: SERVER, after, beforeTs, limit })
}

const statsRow = (roomId: string, joined: number): RoomStatsRow => ({
  current: {
    room_id: roomId,
    current_state_events: 3,
    joined_members: joined,
    invited_members: 0,
    left_members: 1,
    banned_members: 0,
    knocked_members: 0,
    local_users_in_room: 1,
  },
  state: {
    room_id: roomId,
    name: 'Room',
    topic: null,
    canonical_alias: null,
    avatar: null,
    join_rules: 'public',
    history_visibility: 'shared',
    encryption: null,
    room_type: null,
    guest_access: null,
    is_federatable: false,
  },
})

/** The built-in capabilities, one by one, including malformed rows and conditional writes. */
export function contractCapabilityTests(
  functions: ContractTestFunctions,
  withSubject: WithSubject,
): void {
  const { describe } = functions
  describe('events capability', () => eventsTests(functions, withSubject))
  describe('room state and stats capabilities', () => roomTests(functions, withSubject))
  describe('user directory capability', () => directoryTests(functions, withSubject))
  describe('undo log capability', () => undoLogTests(functions, withSubject))
}

function eventsTests({ it, expect }: ContractTestFunctions, withSubject: WithSubject): void {
  it('pages our own events by stream ordering, after a position and before a time', () =>
    withSubject(async ({ subject: { storage, homeserver } }) => {
      await homeserver.addEvents([
        contractEvent(5),
        contractEvent(2),
        contractEvent(3, '@remote:other.example'),
        contractEvent(4, `@x:evil${SERVER}`),
        elsewhere(contractEvent(7, undefined, { rejected: true, room_version: null })),
        contractEvent(9),
      ])
      const events = storage.reader('events')

      const first = await pageOwn(events, 0, 2, null)
      const rest = await pageOwn(events, 5, 10, null)
      const early = await pageOwn(events, 0, 10, 1_700_000_000_006)

      expect(first.map((row) => row.stream_ordering)).toEqual([2, 5])
      expect(rest.map((row) => [row.stream_ordering, row.rejected, row.room_version])).toEqual([
        [7, true, null],
        [9, false, '10'],
      ])
      expect(early.map((row) => row.stream_ordering)).toEqual([2, 5])
      expect(await events.streamOrderingBounds()).toEqual({ min: 2, max: 9 })
      expect((await events.readEvents(['$event9', '$none'])).map((row) => row.event_id)).toEqual([
        '$event9',
      ])
    }))

  it('hands rows whose JSON does not parse to the job as they are stored', () =>
    withSubject(async ({ subject: { storage, homeserver } }) => {
      await homeserver.addEvents([
        { ...contractEvent(1), json: '{"type": "m.room.message", oops' },
        { ...contractEvent(2), json: '[1,2]' },
      ])

      const rows = await pageOwn(storage.reader('events'), 0, 10, null)

      expect(rows.map((row) => row.json)).toEqual(['{"type": "m.room.message", oops', '[1,2]'])
    }))

  it('gives no stream ordering bounds when no event is stored', () =>
    withSubject(async ({ subject: { storage } }) => {
      expect(await storage.reader('events').streamOrderingBounds()).toBe(null)
    }))
}

function roomTests({ it, expect }: ContractTestFunctions, withSubject: WithSubject): void {
  it('pages rooms by code point and gives their current state, malformed events as null', () =>
    withSubject(async ({ subject: { storage, homeserver } }) => {
      const create = { type: 'm.room.create', state_key: '', sender: '@a:x', content: {} }
      await homeserver.setRoomState('!b:x', [create])
      await homeserver.setRoomState('!a:x', [create, null])
      await homeserver.setRoomState('!\u{1F600}:x', [create])
      await homeserver.setRoomState('!\uFF61:x', [create])
      const rooms = storage.reader('room_state')

      expect(await rooms.pageRoomIds('', 3)).toEqual(['!a:x', '!b:x', '!\uFF61:x'])
      expect(await rooms.pageRoomIds('!\uFF61:x', 3)).toEqual(['!\u{1F600}:x'])
      const state = await rooms.currentState('!a:x')
      expect(state?.roomId).toBe('!a:x')
      expect(sorted(state?.stateEvents ?? [])).toEqual(sorted([create, null]))
      expect(await rooms.currentState('!none:x')).toBe(null)
    }))

  it('upserts room stats and reads both rows back', () =>
    withSubject(async ({ subject: { storage } }) => {
      const stats = storage.reader('room_stats')
      await commitWrites(storage, [
        { capability: 'room_stats', op: UPSERT_ROOM_STATS, rows: [statsRow('!r:x', 1)] },
      ])
      await commitWrites(storage, [
        { capability: 'room_stats', op: UPSERT_ROOM_STATS, rows: [statsRow('!r:x', 4)] },
      ])

      expect(await stats.read('!r:x')).toEqual(statsRow('!r:x', 4))
      expect(await stats.read('!none:x')).toBe(null)
    }))
}

function directoryTests({ it, expect }: ContractTestFunctions, withSubject: WithSubject): void {
  const write = (op: string, rows: unknown[]): StorageWrite => ({
    capability: USER_DIRECTORY_CAPABILITY,
    op,
    rows,
  })
  const member = (user: string) => ({
    type: 'm.room.member',
    state_key: user,
    sender: user,
    content: { membership: 'join' },
  })

  it('stages a rebuild and swaps it in only when everything staged was processed', () =>
    withSubject(async ({ subject: { storage, homeserver } }) => {
      await homeserver.setRoomState('!small:x', [member('@a:x')])
      await homeserver.setRoomState('!big:x', [member('@a:x'), member('@b:y')])
      await homeserver.addUsers({ '@a:x': { displayname: 'A' }, '@c:x': null })
      await homeserver.setStreamPosition(42)
      const directory = storage.reader('user_directory')
      const ops = USER_DIRECTORY_OPS

      expect(await directory.currentStreamPosition()).toBe(42)
      const early = await commitWrites(storage, [
        write(ops.stageUsers, [{ user_id: '@a:x', entry: null }]),
      ])
      expect(early.skippedCount).toBe(1)

      await commitWrites(storage, [write(ops.beginRebuild, [{ stream_position: 42 }])])
      expect(await directory.stagedPosition()).toBe(42)
      expect(await directory.stagedRooms(10)).toEqual([
        { room_id: '!big:x', events: 2 },
        { room_id: '!small:x', events: 1 },
      ])
      expect(await directory.stagedUserIds(10)).toEqual(['@a:x', '@c:x'])
      expect(await directory.profiles(['@a:x', '@c:x', '@a:x'])).toEqual([
        { user_id: '@a:x', displayname: 'A', avatar_url: null },
      ])

      const pair = { user_id: '@a:x', other_user_id: '@b:y', room_id: '!big:x' }
      const remote = { user_id: '@b:y', display_name: 'B', avatar_url: null }
      await commitWrites(storage, [
        write(ops.stageRooms, [
          {
            room_id: '!big:x',
            users_in_public_rooms: [],
            users_who_share_private_rooms: [pair, pair],
            user_directory: [remote],
          },
        ]),
      ])
      const tooEarly = await commitWrites(storage, [
        write(ops.finishRebuild, [{ stream_position: 42 }]),
      ])
      expect(tooEarly.skippedCount).toBe(1)
      expect((await homeserver.directory()).stream_position).toBe(null)

      const local = { user_id: '@a:x', display_name: 'A', avatar_url: null }
      await commitWrites(storage, [
        write(ops.stageRooms, [
          {
            room_id: '!small:x',
            users_in_public_rooms: [{ user_id: '@a:x', room_id: '!small:x' }],
            users_who_share_private_rooms: [],
            user_directory: [],
          },
        ]),
        write(ops.stageUsers, [
          { user_id: '@a:x', entry: local },
          { user_id: '@c:x', entry: null },
        ]),
      ])
      const wrongPosition = await commitWrites(storage, [
        write(ops.finishRebuild, [{ stream_position: 41 }]),
      ])
      const swap = await commitWrites(storage, [
        write(ops.finishRebuild, [{ stream_position: 42 }]),
      ])
      const again = await commitWrites(storage, [
        write(ops.finishRebuild, [{ stream_position: 42 }]),
      ])

      expect([wrongPosition.skippedCount, swap.skippedCount, again.skippedCount]).toEqual([1, 0, 1])
      const live = await homeserver.directory()
      expect(sorted(live.user_directory)).toEqual(sorted([local, remote]))
      expect(live.users_in_public_rooms).toEqual([{ user_id: '@a:x', room_id: '!small:x' }])
      expect(live.users_who_share_private_rooms).toEqual([pair])
      expect(live.stream_position).toBe(42)
      expect(await directory.streamPosition()).toBe(42)
      expect(await directory.stagedPosition()).toBe(null)
    }))
}

function undoLogTests({ it, expect }: ContractTestFunctions, withSubject: WithSubject): void {
  it('appends entries only for events whose text is unchanged, with growing ids', () =>
    withSubject(async ({ subject: { storage, homeserver } }) => {
      await homeserver.addEvents([contractEvent(1), contractEvent(2)])
      const one = (await homeserver.storedJson('$event1')) as string
      const two = (await homeserver.storedJson('$event2')) as string
      const entry = (eventId: string, expected: string, version: string) => ({
        event_id: eventId,
        expected_json: expected,
        server_name: SERVER,
        removed_signatures: { 'ed25519:old': 'c2ln' },
        added_key_id: `ed25519:${version}`,
      })

      const report = await commitWrites(storage, [
        {
          capability: UNDO_LOG_CAPABILITY,
          op: APPEND_UNDO_LOG,
          rows: [entry('$event1', one, 'a'), entry('$event2', 'changed', 'a')],
        },
      ])
      await commitWrites(storage, [
        {
          capability: UNDO_LOG_CAPABILITY,
          op: APPEND_UNDO_LOG,
          rows: [entry('$event2', two, 'b')],
        },
      ])
      const page = await storage.reader('undo_log').page(0, 10)

      expect(report.skippedCount).toBe(1)
      expect(page.map((row) => [row.event_id, row.added_key_id])).toEqual([
        ['$event1', 'ed25519:a'],
        ['$event2', 'ed25519:b'],
      ])
      expect(page[0]?.removed_signatures).toEqual({ 'ed25519:old': 'c2ln' })
      expect((page[1]?.id ?? 0) > (page[0]?.id ?? 0)).toBe(true)
      expect(await storage.reader('undo_log').page(page[0]?.id ?? 0, 10)).toEqual([page[1]])
    }))
}
