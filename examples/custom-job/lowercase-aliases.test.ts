import { BackgroundUpdateRunner, MemoryStorageAdapter } from 'matrix-background-updates'
import { runUntilIdle } from 'matrix-background-updates/testing'
import { expect, it } from 'vitest'
import {
  lowercaseAliasesJob,
  memoryRoomAliases,
  type RoomAliasesInstance,
} from './lowercase-aliases.js'

it('lower-cases our own room aliases in batches and leaves other servers alone', async () => {
  const storage = new MemoryStorageAdapter({ capabilities: [memoryRoomAliases] })
  storage.instance<RoomAliasesInstance>('room_aliases').seed([
    { alias: '#Lobby:example.org', roomId: '!a:example.org' },
    { alias: '#Offtopic:example.org', roomId: '!b:example.org' },
    { alias: '#quiet:example.org', roomId: '!c:example.org' },
    { alias: '#Theirs:other.net', roomId: '!d:other.net' },
  ])
  const runner = new BackgroundUpdateRunner({ storage, defaultBatchSize: 2 })
  runner.registerJob(lowercaseAliasesJob)
  await runner.startJob('lowercase_room_aliases', { server_name: 'example.org' })

  const report = await runUntilIdle(runner)

  expect(report.completed).toEqual(['lowercase_room_aliases'])
  const aliases = await storage.reader('room_aliases').page('', 10)
  expect(aliases.map((row) => row.alias).sort()).toEqual([
    '#Theirs:other.net',
    '#lobby:example.org',
    '#offtopic:example.org',
    '#quiet:example.org',
  ])
  const renamed = report.batches.reduce((sum, batch) => sum + (batch.outcomes.renamed ?? 0), 0)
  expect(renamed).toBe(2)
})

it('answers a missing server_name with M_INVALID_PARAM', async () => {
  const runner = new BackgroundUpdateRunner({
    storage: new MemoryStorageAdapter({ capabilities: [memoryRoomAliases] }),
  })
  runner.registerJob(lowercaseAliasesJob)

  await expect(runner.startJob('lowercase_room_aliases', {})).rejects.toMatchObject({
    errcode: 'M_INVALID_PARAM',
    field: 'server_name',
  })
})
