// The demo's verification report: what event_resign, populate_stats_process_rooms and
// regenerate_directory left in the database, checked event by event against the copy taken before.
import {
  computeEventId,
  encodeCanonicalJson,
  verifyEventSignature,
} from 'matrix-background-updates'
import { readAllEvents, SERVER_NAME, serverOf } from './homeserver.mjs'

const numbers = new Intl.NumberFormat('en-US')

/** A failed check of the report. */
export class VerificationError extends Error {}

function check(condition, message) {
  if (!condition) throw new VerificationError(message)
}

function parse(json) {
  try {
    return JSON.parse(json)
  } catch {
    return undefined
  }
}

/** The event without its signatures, as canonical JSON: what re-signing must leave alone. */
function withoutSignatures(event) {
  const { signatures: _signatures, ...rest } = event
  return encodeCanonicalJson(rest)
}

/** Checks one re-signed event of ours against its copy from before. */
async function checkResigned(row, before, newKey) {
  const event = parse(row.json)
  const old = parse(before.json)
  const id = row.event_id
  const ours = Object.keys(event.signatures?.[SERVER_NAME] ?? {})
  check(ours.length === 1 && ours[0] === newKey.keyId, `${id} has signatures ${ours.join(', ')}`)
  check(
    await verifyEventSignature(event, row.room_version, SERVER_NAME, newKey.verifyKey),
    `${id}: the new signature does not verify`,
  )
  check(withoutSignatures(event) === withoutSignatures(old), `${id} changed beyond its signatures`)
  check(event.hashes?.sha256 === old.hashes?.sha256, `${id}: its content hash changed`)

  const others = { ...event.signatures, [SERVER_NAME]: undefined }
  const othersBefore = { ...old.signatures, [SERVER_NAME]: undefined }
  check(JSON.stringify(others) === JSON.stringify(othersBefore), `${id}: other signatures changed`)
  if (!['1', '2'].includes(row.room_version)) {
    check(
      computeEventId(event, row.room_version) === id,
      `${id}: its event ID no longer recomputes`,
    )
  }
}

/** Compares every event with its copy from before; returns the counts by kind. */
async function compareEvents(storage, before, newKey) {
  const counts = { resigned: 0, skipped: 0, remote: 0 }
  const after = await readAllEvents(storage)
  check(after.length === before.size, `${after.length} events now, ${before.size} before`)

  for (const row of after) {
    const old = before.get(row.event_id)
    check(old !== undefined, `${row.event_id} was not there before`)
    if (serverOf(row.sender) !== SERVER_NAME) {
      check(row.json === old.json, `the remote event ${row.event_id} changed`)
      counts.remote += 1
    } else if (row.json === old.json) {
      counts.skipped += 1
    } else {
      await checkResigned(row, old, newKey)
      counts.resigned += 1
    }
  }
  return counts
}

function sum(counts) {
  return Object.values(counts).reduce((total, count) => total + count, 0)
}

function describe(counts) {
  return Object.entries(counts)
    .map(([kind, count]) => `${kind} ${numbers.format(count)}`)
    .join(', ')
}

/**
 * Checks the database after the jobs and returns the report's lines.
 *
 * @throws {VerificationError} A check failed; its message says which and where.
 */
export async function verify({ storage, homeserver, before, newKey, outcomes, rooms }) {
  const events = await compareEvents(storage, before, newKey)
  const resign = outcomes.event_resign ?? {}
  const { resigned = 0, ...skippedKinds } = resign
  check(
    events.resigned === resigned,
    `${events.resigned} events changed, the job re-signed ${resigned}`,
  )
  check(
    events.skipped === sum(skippedKinds),
    `${events.skipped} unchanged, the job skipped ${sum(skippedKinds)}`,
  )
  check(events.resigned > 0, 'nothing was re-signed')

  const undo = await homeserver.undoLog()
  check(
    undo.length === resigned,
    `${undo.length} undo log entries for ${resigned} re-signed events`,
  )
  const stats = await homeserver.roomStats()
  const statsOutcomes = outcomes.populate_stats_process_rooms ?? {}
  check(
    Object.keys(stats).length === (statsOutcomes.computed ?? 0),
    'room stats rows ≠ rooms computed',
  )
  const directory = await homeserver.directory()
  check(directory.user_directory.length > 0, 'the user directory is empty')

  const joined = Object.values(stats).reduce((total, row) => total + row.current.joined_members, 0)
  return [
    `✓ ${numbers.format(events.resigned)} events of ours re-signed: each has exactly one signature of ours, by ${newKey.keyId}, and it verifies`,
    `✓ ${numbers.format(events.skipped)} events of ours skipped (${describe(skippedKinds) || 'none'}): byte-identical, as many as the job counted`,
    `✓ ${numbers.format(events.remote)} remote events byte-identical`,
    "✓ content hashes, other servers' signatures and event IDs unchanged",
    `✓ undo log: ${numbers.format(undo.length)} entries, one per re-signed event`,
    `✓ room stats: ${Object.keys(stats).length} of ${rooms} rooms (${describe(statsOutcomes)}), ${numbers.format(joined)} joined members`,
    `✓ user directory: ${numbers.format(directory.user_directory.length)} users, ${numbers.format(directory.users_in_public_rooms.length)} in public rooms, ${numbers.format(directory.users_who_share_private_rooms.length)} private-room pairs`,
  ]
}
