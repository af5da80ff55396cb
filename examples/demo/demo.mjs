// The demo: a homeserver database in SQLite, a key rotation, and the three built-in jobs driven over
// the admin API as an operator would, ending with a verification report. Run by `npm run demo`,
// which builds the package first; it imports the package by name, as a homeserver would.
//
//   node examples/demo/demo.mjs [--keep]   (--keep leaves the database in place, and says where)
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeVerifyKeyBase64, generateSigningKey } from 'matrix-background-updates'
import { ADMIN_TOKEN, createDatabase, readAllEvents, startHomeserver } from './homeserver.mjs'
import {
  adminClient,
  extrasLine,
  followUntilDone,
  progressPrinter,
  waitForStatus,
} from './operator.mjs'
import { VerificationError, verify } from './verify.mjs'

const out = process.stdout
const say = (line = '') => out.write(`${line}\n`)
const numbers = new Intl.NumberFormat('en-US')

/** The public key in the admin API's `old_key` format. */
function oldKeyText(key) {
  return `${key.keyId} ${encodeVerifyKeyBase64(key.verifyKey)}`
}

async function buildDatabase(folder, oldKey) {
  say('1. Building a homeserver database in SQLite')
  const remoteKeys = new Map([
    ['remote0.example', generateSigningKey('r0')],
    ['remote1.example:8449', generateSigningKey('r1')],
  ])
  const built = await createDatabase(folder, { oldKey, remoteKeys })
  const { summary } = built
  say(`   ${built.file}`)
  say(
    `   ${summary.rooms.length} rooms over room versions 1 to 12, ${summary.localUsers.length} local users`,
  )
  say(
    `   ${numbers.format(summary.events)} events: ${numbers.format(summary.localEvents)} ours, signed with ${oldKey.keyId};`,
  )
  say(
    `   ${numbers.format(built.remoteSigned)} from remote0.example and remote1.example:8449, signed by their own keys`,
  )
  return built
}

/** Pauses through `enabled`, shows the runner standing still, and resumes. */
async function pauseAndResume(client) {
  await client.setEnabled(false)
  const paused = await waitForStatus(
    client,
    (status) => status.databases.master.state === 'disabled',
  )
  say(`\n   Paused (POST enabled false): ${extrasLine(paused)}`)
  const items = paused.current_updates.master?.total_item_count ?? 0
  await new Promise((resolve) => setTimeout(resolve, 400))
  const still = (await client.status()).current_updates.master?.total_item_count ?? 0
  if (still !== items)
    throw new Error(`the runner went on while disabled (${items} → ${still} items)`)
  say(`   Still ${numbers.format(still)} items 0.4 s later. Resuming (POST enabled true).`)
  await client.setEnabled(true)
}

async function runJobs(client, oldKey) {
  const printer = progressPrinter(out)
  let pausedOnce = false
  const pauseOnce = async (status) => {
    const update = status.current_updates.master
    if (pausedOnce || !update || update.total_item_count === 0) return
    pausedOnce = true
    printer.end()
    await pauseAndResume(client)
  }

  say('\n3. POST start_job {"job_name": "event_resign", "old_key": …}')
  await client.startJob('event_resign', { old_key: oldKeyText(oldKey) })
  say(`   ${extrasLine(await client.status())}`)
  await followUntilDone(client, printer, pauseOnce)
  if (!pausedOnce) await pauseAndResume(client)

  say('\n4. POST start_job populate_stats_process_rooms, then regenerate_directory')
  await client.startJob('populate_stats_process_rooms')
  await client.startJob('regenerate_directory')
  say(`   ${extrasLine(await client.status())}`)
  await followUntilDone(client, printer)
  const { databases } = await client.status()
  say(
    `   Done: state ${databases.master.state}, pending_updates [${databases.master.pending_updates}]`,
  )
}

async function main(keep) {
  const started = performance.now()
  const folder = await mkdtemp(join(tmpdir(), 'matrix-bgupdates-demo-'))
  const oldKey = generateSigningKey('a_old')
  const newKey = generateSigningKey('a_new')
  let server = null
  try {
    const built = await buildDatabase(folder, oldKey)
    const before = new Map((await readAllEvents(built.storage)).map((row) => [row.event_id, row]))
    server = await startHomeserver(built.storage, oldKey)
    say(`\n2. Homeserver up: admin API at ${server.url}, behind the token ${ADMIN_TOKEN}`)
    server.keyProvider.rotate(newKey)
    say(
      `   Rotated the signing key: ${oldKey.keyId} → ${newKey.keyId} (the old one stays an old verify key)`,
    )

    await runJobs(adminClient(server.url), oldKey)
    await server.stop()
    const { outcomes } = server
    server = null

    say('\n5. Verification')
    const rooms = built.summary.rooms.length
    for (const line of await verify({ ...built, before, newKey, outcomes, rooms }))
      say(`   ${line}`)
    await built.storage.close()
    say(`\nDemo passed in ${((performance.now() - started) / 1000).toFixed(1)} s.`)
  } finally {
    await server?.stop()
    if (keep) say(`The database is kept in ${folder}.`)
    else await rm(folder, { recursive: true, force: true })
  }
}

try {
  await main(process.argv.includes('--keep'))
} catch (error) {
  const reason = error instanceof VerificationError ? 'verification failed' : 'it stopped'
  process.stderr.write(`\nDemo failed (${reason}): ${error?.message ?? error}\n`)
  process.exitCode = 1
}
