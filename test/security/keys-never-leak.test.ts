/**
 * Signing keys never leave the key provider: a full event_resign run and its revert, with malformed
 * events, transient and permanent failures and the admin API answering status, are captured whole
 * (every log line, every runner event, every error, every status, the admin API's answers, the
 * stored events, the queue's progress and the undo log) and searched for the seeds and the secret
 * keys in every encoding. Key files: test/node/read-signing-key-file.test.ts shows that a malformed
 * file is refused by line number without its seed.
 */
import { inspect } from 'node:util'
import {
  BackgroundUpdateRunner,
  createAdminApi,
  decodeSigningKeyBase64,
  type Ed25519SigningKey,
  encodeBase64,
  eventResignJob,
  eventResignRevertJob,
  type KeyProvider,
  type Logger,
  MemoryKeyProvider,
  parseVerifyKey,
  readSigningKeys,
  SigningKeyFileProvider,
  undoLogPruneJob,
  writeSigningKeys,
} from 'matrix-background-updates'
import { createHomeserverStorage, FakeClock } from 'matrix-background-updates/testing'
import { describe, expect, it } from 'vitest'
import { signedMessage } from '../jobs/job-setup.js'
import { leaksIn, needlesFor } from './key-material.js'

const server = 'example.org'

/** A key from fixed random bytes, so the needles are known. */
function keyFrom(version: string): { key: Ed25519SigningKey; seed: Uint8Array } {
  const seed = crypto.getRandomValues(new Uint8Array(32))
  return { key: decodeSigningKeyBase64('ed25519', version, encodeBase64(seed)), seed }
}

/** Everything the library says, in one growing list, written out whole. */
class Capture {
  readonly #items: unknown[] = []

  add(label: string, value: unknown): void {
    this.#items.push(label, value)
  }

  /** A logger that keeps every call. */
  logger(name: string): Logger {
    const at = (level: string) => (details: Record<string, unknown>, message: string) =>
      this.add(`${name}.${level}`, { details, message })
    return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
  }

  /** All of it as text: inspected deeply (errors with stack and cause), and as JSON where it can. */
  text(): string {
    return this.#items
      .map((item) => {
        const inspected = inspect(item, {
          depth: null,
          showHidden: true,
          maxArrayLength: null,
          maxStringLength: null,
        })
        let json = ''
        try {
          json = JSON.stringify(item) ?? ''
        } catch {
          json = ''
        }
        return `${inspected}\n${json}`
      })
      .join('\n')
  }
}

/** A provider whose signer fails its first use, so a failure with a cause is logged. */
function failingOnce(inner: KeyProvider): KeyProvider {
  let failed = false
  return {
    async currentKey() {
      const key = await inner.currentKey()
      return {
        ...key,
        keyId: key.keyId,
        algorithm: key.algorithm,
        version: key.version,
        verifyKey: key.verifyKey,
        async sign(bytes: Uint8Array) {
          if (!failed) {
            failed = true
            throw new Error('the HSM is asleep')
          }
          return key.sign(bytes)
        },
      }
    },
    oldVerifyKeys: () => inner.oldVerifyKeys(),
  }
}

async function seedEvents(
  homeserver: ReturnType<typeof createHomeserverStorage>['homeserver'],
  key: Ed25519SigningKey,
) {
  const events = await Promise.all(
    ['a', 'b', 'c', 'd', 'e'].map((body, index) =>
      signedMessage('@alice:example.org', body, { key, roomVersion: index === 0 ? '1' : '10' }),
    ),
  )
  homeserver.addEvents([
    ...events.map((signed, index) => ({
      event: signed.event,
      event_id: signed.eventId,
      stream_ordering: index + 1,
      room_version: signed.roomVersion,
    })),
    {
      json: '{"not json',
      event_id: '$bad',
      sender: '@alice:example.org',
      stream_ordering: 10,
      room_version: '10',
    },
  ])
  return events
}

/** Runs event_resign, status through the admin API, the revert and the prune, capturing all. */
async function fullRun(capture: Capture, oldKey: Ed25519SigningKey, newKey: Ed25519SigningKey) {
  const clock = new FakeClock()
  const { storage, homeserver } = createHomeserverStorage({ clock })
  const events = await seedEvents(homeserver, oldKey)
  const provider = new MemoryKeyProvider(oldKey)
  provider.rotate(newKey, 1_700_000_000_000)
  const keyProvider = failingOnce(provider)
  const runner = new BackgroundUpdateRunner({
    storage,
    clock,
    sleepEnabled: false,
    defaultBatchSize: 2,
    logger: capture.logger('runner'),
  })
  for (const event of [
    'update:start',
    'update:batch',
    'update:complete',
    'update:error',
    'runner:idle',
  ] as const) {
    runner.on(event, (payload: unknown) => capture.add(event, payload))
  }
  const jobOptions = { serverName: server, keyProvider, logger: capture.logger('job') }
  runner.registerJob(
    eventResignJob({ ...jobOptions, onEventsChanged: (ids) => capture.add('changed', ids) }),
  )
  runner.registerJob(eventResignRevertJob(jobOptions))
  runner.registerJob(undoLogPruneJob({ serverName: server }))
  const api = createAdminApi({
    runners: runner,
    logger: capture.logger('api'),
    authorize: async () => undefined,
  })
  const status = async () => {
    capture.add('status', await runner.status())
    const response = await api.fetch(
      new Request('http://hs/_synapse/admin/v1/background_updates/status', {
        headers: { authorization: 'Bearer t' },
      }),
    )
    capture.add('admin status', await response.text())
  }
  const runJob = async (name: string) => {
    capture.add(`start ${name}`, await runner.startJob(name, {}).catch((error: unknown) => error))
    for (let turn = 0; turn < 50 && (await storage.listPendingUpdates()).length > 0; turn++) {
      capture.add('run', await runner.runFor(Number.POSITIVE_INFINITY, { sleep: false }))
      capture.add('queue', await storage.listPendingUpdates())
      await status()
    }
  }

  await runJob('event_resign')
  capture.add('undo log', homeserver.undoLog())
  capture.add(
    'events',
    events.map((signed) => homeserver.storedJson(signed.eventId)),
  )
  await runJob('event_resign_revert')
  capture.add(
    'events after revert',
    events.map((signed) => homeserver.storedJson(signed.eventId)),
  )
  await runJob('undo_log_prune')
  capture.add('undo log after prune', homeserver.undoLog())
  return { homeserver, events }
}

/** Errors the key functions throw for input made from a seed, captured with their messages. */
function keyErrors(capture: Capture, seed: Uint8Array): void {
  const seedText = encodeBase64(seed)
  const attempts = [
    () => decodeSigningKeyBase64('ed25519', '1', `${seedText}!`),
    () => decodeSigningKeyBase64('ed25519', '1', seedText.slice(0, 40)),
    () => decodeSigningKeyBase64('ed25519', 'bad version!', seedText),
    () => readSigningKeys(`ed25519 a ${seedText}\ned25519 a ${seedText}\n`),
    () => readSigningKeys(`ed25519 a ${seedText} extra\n`),
    () => readSigningKeys(`ed25519 a ${seedText}=\n`),
    () => new SigningKeyFileProvider(`ed25519 a ${seedText}x\n`),
    () => parseVerifyKey(`ed25519:a ${seedText}x`),
    () => parseVerifyKey(`ed25519 ${seedText}`),
  ]
  for (const attempt of attempts) {
    try {
      capture.add('no error', attempt())
    } catch (error) {
      capture.add('key error', error)
    }
  }
}

describe('signing keys', () => {
  it('never appear in logs, events, errors, status, answers, stored events, progress or the undo log', async () => {
    const oldKey = keyFrom('old')
    const newKey = keyFrom('new')
    const capture = new Capture()

    const { homeserver, events } = await fullRun(capture, oldKey.key, newKey.key)
    keyErrors(capture, oldKey.seed)
    capture.add('keys as objects', [
      oldKey.key,
      newKey.key,
      JSON.stringify(newKey.key),
      String(newKey.key),
    ])

    const text = capture.text()
    const needles = [
      ...needlesFor(oldKey.seed, oldKey.key.verifyKey.bytes),
      ...needlesFor(newKey.seed, newKey.key.verifyKey.bytes),
    ]
    expect(leaksIn(text, needles)).toEqual([])
    // The capture saw the run: warnings, a failure with its cause, both jobs, the revert's result.
    expect(text).toContain('the HSM is asleep')
    expect(text).toContain('event_resign_revert')
    expect(text).toContain('$bad')
    expect(homeserver.storedJson(events[1]?.eventId as string)).toBe(
      JSON.stringify(events[1]?.event),
    )
  })

  it('are found by this search when they are written out, in each encoding', () => {
    const { key, seed } = keyFrom('probe')
    const needles = needlesFor(seed, key.verifyKey.bytes)
    const secret = new Uint8Array([...seed, ...key.verifyKey.bytes])
    const exposures = [
      encodeBase64(key.encode()),
      Buffer.from(seed).toString('base64url'),
      Buffer.from(seed).toString('hex'),
      Buffer.from(secret).toString('latin1'),
      JSON.stringify([...seed]),
      inspect(Buffer.from(seed)),
      writeSigningKeys([key]),
    ]

    for (const exposure of exposures) expect(leaksIn(`x ${exposure} y`, needles)).not.toEqual([])
  })
})
