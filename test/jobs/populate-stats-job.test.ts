import { populateStatsJob, type UpdateBatchEvent } from 'matrix-background-updates'
import { runUntilIdle } from 'matrix-background-updates/testing'
import { describe, expect, it } from 'vitest'
import { makeHomeserver, restartedRunner } from './job-setup.js'

const server = 'example.org:8448'

function member(userId: string, membership: string) {
  return { type: 'm.room.member', state_key: userId, sender: userId, content: { membership } }
}

function roomWide(type: string, content: Record<string, unknown>) {
  return { type, state_key: '', sender: '@alice:example.org:8448', content }
}

const busyRoom = [
  roomWide('m.room.create', { room_version: '10', type: 'm.space', 'm.federate': true }),
  roomWide('m.room.name', { name: 'Busy' }),
  roomWide('m.room.topic', {
    topic: '<b>hi</b>',
    'm.topic': { 'm.text': [{ mimetype: 'text/html', body: '<b>hi</b>' }, { body: 'hi' }] },
  }),
  roomWide('m.room.join_rules', { join_rule: 'public' }),
  roomWide('m.room.history_visibility', { history_visibility: 'shared' }),
  roomWide('m.room.guest_access', { guest_access: 'can_join' }),
  roomWide('m.room.encryption', { algorithm: 'm.megolm.v1.aes-sha2' }),
  roomWide('m.room.avatar', { url: 'mxc://x/y\u0000' }),
  roomWide('m.room.canonical_alias', { alias: 5 }),
  member('@alice:example.org:8448', 'join'),
  member('@bob:example.org', 'join'),
  member('@carol:example.org:8448', 'invite'),
  member('@dave:example.org:8448', 'leave'),
  member('@erin:remote.example', 'ban'),
  member('@frank:remote.example', 'knock'),
]

const busyStats = {
  current: {
    room_id: '!busy:example.org',
    current_state_events: 15,
    joined_members: 2,
    invited_members: 1,
    left_members: 1,
    banned_members: 1,
    knocked_members: 1,
    local_users_in_room: 1,
  },
  state: {
    room_id: '!busy:example.org',
    name: 'Busy',
    topic: 'hi',
    canonical_alias: null,
    avatar: null,
    join_rules: 'public',
    history_visibility: 'shared',
    encryption: 'm.megolm.v1.aes-sha2',
    room_type: 'm.space',
    guest_access: 'can_join',
    is_federatable: true,
  },
}

const quietRoom = [
  roomWide('m.room.create', { room_version: '10', 'm.federate': 'no' }),
  member('@alice:example.org:8448', 'join'),
]

const quietStats = {
  current: {
    room_id: '!quiet:example.org',
    current_state_events: 2,
    joined_members: 1,
    invited_members: 0,
    left_members: 0,
    banned_members: 0,
    knocked_members: 0,
    local_users_in_room: 1,
  },
  state: {
    room_id: '!quiet:example.org',
    name: null,
    topic: null,
    canonical_alias: null,
    avatar: null,
    join_rules: null,
    history_visibility: null,
    encryption: null,
    room_type: null,
    guest_access: null,
    is_federatable: false,
  },
}

function setup(batchSize = 100) {
  const kit = makeHomeserver({ defaultBatchSize: batchSize })
  const batches: UpdateBatchEvent[] = []
  kit.runner.registerJob(populateStatsJob({ serverName: server }))
  kit.runner.on('update:batch', (event) => batches.push(event))
  kit.homeserver.setRoomState('!busy:example.org', busyRoom)
  kit.homeserver.setRoomState('!quiet:example.org', quietRoom)
  kit.homeserver.setRoomState('!broken:example.org', [
    member('@alice:example.org:8448', 'join'),
    null,
  ])
  kit.homeserver.setRoomState('!empty:example.org', [])
  return { ...kit, batches }
}

describe('populate_stats_process_rooms over the memory adapter', () => {
  it('writes the stats of every room from its current state, skipping and counting broken rooms', async () => {
    const { homeserver, runner, batches } = setup()

    await runner.startJob('populate_stats_process_rooms', {})
    const report = await runUntilIdle(runner)

    expect(report.completed).toEqual(['populate_stats_process_rooms'])
    expect(homeserver.roomStats()).toEqual({
      '!busy:example.org': busyStats,
      '!quiet:example.org': quietStats,
    })
    expect(batches[0]?.outcomes).toEqual({ computed: 2, unloadable: 1 })
  })

  it('goes through the rooms in batches by room ID', async () => {
    const { storage, runner, batches } = setup(1)
    const seen: unknown[] = []
    runner.on(
      'update:batch',
      () =>
        void storage
          .readProgress('populate_stats_process_rooms')
          .then((p) => seen.push(p?.last_room_id)),
    )

    await runner.startJob('populate_stats_process_rooms', {})
    await runUntilIdle(runner)

    expect(batches.map((batch) => batch.items)).toEqual([1, 1, 1, 0])
    expect(seen.slice(0, 3)).toEqual([
      '!broken:example.org',
      '!busy:example.org',
      '!quiet:example.org',
    ])
  })

  it('continues from committed progress in a new runner after a stop', async () => {
    const { storage, clock, homeserver, runner } = setup(1)
    await runner.startJob('populate_stats_process_rooms', {})
    runner.on('update:batch', () => void runner.stop())
    await runUntilIdle(runner)
    expect(await storage.readProgress('populate_stats_process_rooms')).toEqual({
      last_room_id: '!broken:example.org',
      counts: { unloadable: 1 },
    })

    const next = restartedRunner(storage, clock)
    next.registerJob(populateStatsJob({ serverName: server }))
    const report = await runUntilIdle(next)

    expect(report.completed).toEqual(['populate_stats_process_rooms'])
    expect(Object.keys(homeserver.roomStats()).sort()).toEqual([
      '!busy:example.org',
      '!quiet:example.org',
    ])
  })

  it('ignores unknown parameters, as Synapse does, and is startable', async () => {
    const { storage, runner } = setup()

    await runner.startJob('populate_stats_process_rooms', { what: 1 })

    expect(await storage.readProgress('populate_stats_process_rooms')).toEqual({
      last_room_id: '',
      counts: {},
    })
    expect(runner.job('populate_stats_process_rooms')?.startable).toBe(true)
  })

  it('refuses an empty server name', () => {
    expect(() => populateStatsJob({ serverName: '' })).toThrow(TypeError)
  })
})
