import { regenerateDirectoryJob, type UpdateBatchEvent } from 'matrix-background-updates'
import { runUntilIdle, seedUpdates } from 'matrix-background-updates/testing'
import { describe, expect, it } from 'vitest'
import { makeHomeserver, restartedRunner } from './job-setup.js'

const server = 'example.org'
const CHAIN = [
  'populate_user_directory_createtables',
  'populate_user_directory_process_rooms',
  'populate_user_directory_process_users',
  'populate_user_directory_cleanup',
]

function member(userId: string, membership: string, profile: Record<string, unknown> = {}) {
  return { type: 'm.room.member', state_key: userId, content: { membership, ...profile } }
}

function joinRule(rule: string) {
  return { type: 'm.room.join_rules', state_key: '', content: { join_rule: rule } }
}

const rooms: Record<string, unknown[]> = {
  '!pub:example.org': [
    joinRule('public'),
    member('@alice:example.org', 'join', { displayname: 'Alice in pub' }),
    member('@gone:example.org', 'join'),
    member('@rita:remote.example', 'join', { displayname: 'Rita' }),
    member('@ivan:remote.example', 'invite', { displayname: 'Ivan' }),
  ],
  '!priv:example.org': [
    joinRule('invite'),
    member('@alice:example.org', 'join'),
    member('@noprof:example.org', 'join'),
    member('@rita:remote.example', 'join', { displayname: 'Rita P', avatar_url: 'mxc://r/p' }),
  ],
  '!elsewhere:remote.example': [joinRule('public'), member('@x:remote.example', 'join')],
  '!broken:example.org': [null],
}

const users = {
  '@alice:example.org': { displayname: 'Alice', avatar_url: 'mxc://a/a' },
  '@bob:example.org': { displayname: 'Bob' },
  '@gone:example.org': { displayname: 'Gone' },
  '@noprof:example.org': null,
}

/** What the directory must hold after a rebuild, worked out by hand from the data above. */
const expectedDirectory = {
  user_directory: [
    { user_id: '@alice:example.org', display_name: 'Alice', avatar_url: 'mxc://a/a' },
    { user_id: '@bob:example.org', display_name: 'Bob', avatar_url: null },
    { user_id: '@noprof:example.org', display_name: null, avatar_url: null },
    { user_id: '@rita:remote.example', display_name: 'Rita P', avatar_url: 'mxc://r/p' },
  ],
  users_in_public_rooms: [
    { user_id: '@alice:example.org', room_id: '!pub:example.org' },
    { user_id: '@rita:remote.example', room_id: '!pub:example.org' },
  ],
  users_who_share_private_rooms: [
    {
      user_id: '@alice:example.org',
      other_user_id: '@noprof:example.org',
      room_id: '!priv:example.org',
    },
    {
      user_id: '@alice:example.org',
      other_user_id: '@rita:remote.example',
      room_id: '!priv:example.org',
    },
    {
      user_id: '@noprof:example.org',
      other_user_id: '@alice:example.org',
      room_id: '!priv:example.org',
    },
    {
      user_id: '@noprof:example.org',
      other_user_id: '@rita:remote.example',
      room_id: '!priv:example.org',
    },
  ],
  stream_position: 42,
}

function sorted<T extends object>(rows: readonly T[]): T[] {
  return [...rows].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1))
}

function normalized(directory: {
  user_directory: readonly object[]
  users_in_public_rooms: readonly object[]
  users_who_share_private_rooms: readonly object[]
  stream_position: number | null
}) {
  return {
    user_directory: sorted(directory.user_directory),
    users_in_public_rooms: sorted(directory.users_in_public_rooms),
    users_who_share_private_rooms: sorted(directory.users_who_share_private_rooms),
    stream_position: directory.stream_position,
  }
}

function setup(batchSize = 100) {
  const kit = makeHomeserver({ defaultBatchSize: batchSize })
  const rebuilt: Array<{ position: number; liveAtCall: number | null }> = []
  const started: string[] = []
  const batches: UpdateBatchEvent[] = []
  const job = regenerateDirectoryJob({
    serverName: server,
    isExcludedUser: (userId) => userId === '@gone:example.org',
    onDirectoryRebuilt: (position) =>
      rebuilt.push({ position, liveAtCall: kit.homeserver.directory().stream_position }),
  })
  kit.runner.registerJob(job)
  kit.runner.on('update:start', (event) => started.push(event.name))
  kit.runner.on('update:batch', (event) => batches.push(event))
  for (const [roomId, state] of Object.entries(rooms)) kit.homeserver.setRoomState(roomId, state)
  kit.homeserver.addUsers(users)
  kit.homeserver.setStreamPosition(42)
  return { ...kit, job, rebuilt, started, batches }
}

describe('regenerate_directory over the memory adapter', () => {
  it('queues and runs the four updates of Synapse in their order', async () => {
    const { runner, storage, started } = setup()

    await runner.startJob('regenerate_directory', {})
    const queued = await storage.listPendingUpdates()
    const report = await runUntilIdle(runner)

    expect(queued.map((row) => [row.update_name, row.depends_on])).toEqual(
      expect.arrayContaining([
        [CHAIN[0], null],
        [CHAIN[1], CHAIN[0]],
        [CHAIN[2], CHAIN[1]],
        [CHAIN[3], CHAIN[2]],
      ]),
    )
    expect(started).toEqual(CHAIN)
    expect(report.completed).toEqual(CHAIN)
  })

  it('rebuilds the directory from joined rooms and every local user, leaving excluded users out', async () => {
    const { runner, homeserver } = setup()

    await runner.startJob('regenerate_directory', {})
    await runUntilIdle(runner)

    expect(normalized(homeserver.directory())).toEqual(normalized(expectedDirectory))
    expect(homeserver.stagedDirectory()).toBeNull()
  })

  it('stores the position read at createtables and hands it back after the swap commits', async () => {
    const { runner, storage, homeserver, rebuilt } = setup()
    await runner.startJob('regenerate_directory', {})
    runner.on('update:complete', (event) => {
      if (event.name === CHAIN[0]) homeserver.setStreamPosition(50)
    })

    await runUntilIdle(runner)

    expect(rebuilt).toEqual([{ position: 42, liveAtCall: 42 }])
    expect(await storage.reader('user_directory').streamPosition()).toBe(42)
  })

  it('processes rooms largest state first, in batches of state events', async () => {
    const { runner, batches } = setup(1)

    await runner.startJob('regenerate_directory', {})
    await runUntilIdle(runner)

    const rooms = batches.filter((batch) => batch.name === CHAIN[1])
    expect(rooms.map((batch) => batch.items)).toEqual([5, 4, 2, 1, 0])
    expect(rooms.map((batch) => batch.outcomes)).toEqual([
      { processed: 1 },
      { processed: 1 },
      { 'not-joined': 1 },
      { unloadable: 1 },
      {},
    ])
  })

  it('serves the old directory to readers until the swap', async () => {
    const { runner, homeserver } = setup(1)
    await runner.startJob('regenerate_directory', {})
    await runUntilIdle(runner)
    const before = homeserver.directory()
    homeserver.addUsers({ '@new:example.org': { displayname: 'New' } })
    const seen: unknown[] = []
    runner.on('update:batch', (event) => {
      if (event.name !== CHAIN[3]) seen.push(homeserver.directory())
    })

    await runner.startJob('regenerate_directory', {})
    await runUntilIdle(runner)

    expect(seen.length).toBeGreaterThan(3)
    for (const snapshot of seen) expect(snapshot).toEqual(before)
    expect(homeserver.directory().user_directory).toContainEqual({
      user_id: '@new:example.org',
      display_name: 'New',
      avatar_url: null,
    })
  })

  it('leaves the live directory whole when cleanup runs again after the swap', async () => {
    const { runner, storage, homeserver, rebuilt, batches } = setup()
    await runner.startJob('regenerate_directory', {})
    await runUntilIdle(runner)
    const after = homeserver.directory()

    await seedUpdates(storage, [CHAIN[3] as string])
    await runUntilIdle(runner)
    await seedUpdates(storage, ['swap_again'])
    const commit = await storage.commitBatch({
      updateName: 'swap_again',
      writes: [
        { capability: 'user_directory', op: 'finish_rebuild', rows: [{ stream_position: 42 }] },
      ],
      progress: {},
      done: true,
      leaseToken: null,
    })

    expect(batches.at(-1)?.outcomes).toEqual({ 'nothing-staged': 1 })
    expect(commit).toMatchObject({ committed: true, report: { skippedCount: 1 } })
    expect(homeserver.directory()).toEqual(after)
    expect(rebuilt).toHaveLength(1)
  })

  it('continues from the staging in a new runner after a stop', async () => {
    const { runner, storage, clock, homeserver } = setup(1)
    await runner.startJob('regenerate_directory', {})
    runner.on('update:batch', (event) => {
      if (event.name === CHAIN[1]) void runner.stop()
    })
    await runUntilIdle(runner)
    expect((await storage.listPendingUpdates()).map((row) => row.update_name)).toContain(CHAIN[1])

    const next = restartedRunner(storage, clock, { defaultBatchSize: 1 })
    next.registerJob(
      regenerateDirectoryJob({
        serverName: server,
        isExcludedUser: (id) => id === '@gone:example.org',
      }),
    )
    const report = await runUntilIdle(next)

    expect(report.completed).toEqual(CHAIN.slice(1))
    expect(normalized(homeserver.directory())).toEqual(normalized(expectedDirectory))
  })

  it('is startable, ignores unknown parameters and declares its capabilities', async () => {
    const { runner, job } = setup()

    await runner.startJob('regenerate_directory', { what: 1 })

    expect(job.startable).toBe(true)
    for (const update of job.updates)
      expect(update.capabilities).toEqual(['room_state', 'user_directory'])
  })
})
