// The operator's side of the demo: everything goes through the admin API over HTTP, as curl or
// matrix-bgupdates would send it.
import { setTimeout as sleep } from 'node:timers/promises'
import { ADMIN_TOKEN } from './homeserver.mjs'

const PREFIX = '/_synapse/admin/v1/background_updates'
const POLL_MS = 100
const BAR_WIDTH = 28
const numbers = new Intl.NumberFormat('en-US')

/** A client of the admin API at `baseUrl`. */
export function adminClient(baseUrl) {
  const call = async (method, route, body) => {
    const response = await fetch(`${baseUrl}${PREFIX}/${route}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const answer = await response.json()
    if (!response.ok)
      throw new Error(`${method} ${route} answered ${response.status}: ${answer.error}`)
    return answer
  }
  return {
    status: () => call('GET', 'status'),
    setEnabled: (enabled) => call('POST', 'enabled', { enabled }),
    startJob: (jobName, params = {}) => call('POST', 'start_job', { job_name: jobName, ...params }),
  }
}

/** The progress line of an update: bar, percentage, items, rate and ETA. */
export function progressLine(update) {
  const fraction = Math.min(Math.max(update.fraction_done ?? 0, 0), 1)
  const filled = Math.round(fraction * BAR_WIDTH)
  const rate =
    update.average_items_per_ms === null
      ? '-'
      : numbers.format(Math.round(update.average_items_per_ms * 1000))
  const eta =
    update.eta_ms === null || update.eta_ms === undefined
      ? '--'
      : `${(update.eta_ms / 1000).toFixed(1)} s`
  return [
    update.name.padEnd(40),
    `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]`,
    `${String(Math.floor(fraction * 100)).padStart(3)}%`,
    `${numbers.format(update.total_item_count)} items`,
    `${rate}/s`,
    `ETA ${eta}`,
  ].join('  ')
}

/** The status extras of the main database, on one line. */
export function extrasLine(status) {
  const database = status.databases?.master
  const update = status.current_updates.master
  const outcomes = Object.entries(update?.outcomes ?? {})
    .map(([kind, count]) => `${kind} ${numbers.format(count)}`)
    .join(', ')
  return [
    `state ${database?.state}`,
    `fraction_done ${update?.fraction_done?.toFixed(2) ?? 'null'}`,
    `eta_ms ${update?.eta_ms === null || update?.eta_ms === undefined ? 'null' : Math.round(update.eta_ms)}`,
    `outcomes {${outcomes}}`,
    `pending_updates [${database?.pending_updates.join(', ')}]`,
  ].join(' · ')
}

/** Writes progress: redrawn in place on a terminal, a line per quarter otherwise. */
export function progressPrinter(out) {
  const interactive = out.isTTY === true
  let lastQuarter = -1
  let drawn = false
  return {
    show(update) {
      if (interactive) {
        out.write(`\r\x1b[2K  ${progressLine(update)}`)
        drawn = true
        return
      }
      const quarter = Math.floor((update.fraction_done ?? 0) * 4)
      if (quarter > lastQuarter) out.write(`  ${progressLine(update)}\n`)
      lastQuarter = Math.max(lastQuarter, quarter)
    },
    end() {
      if (drawn) out.write('\n')
      drawn = false
      lastQuarter = -1
    },
  }
}

/**
 * Polls the status until no update is pending, drawing the progress of the current one. `onPoll`
 * sees every status and may act (pause, resume) before the next poll.
 */
export async function followUntilDone(client, printer, onPoll = async () => {}) {
  let last = null
  for (;;) {
    const status = await client.status()
    const database = status.databases.master
    if (database.state === 'aborted')
      throw new Error(`the runner aborted: ${database.last_error?.message}`)

    const update = status.current_updates.master
    if (update) {
      if (last && update.name !== last.name) printer.end()
      printer.show(update)
      last = update
    }
    if (database.pending_updates.length === 0) break

    await onPoll(status)
    await sleep(POLL_MS)
  }
  printer.end()
}

/** Waits for a status for which `test` holds. */
export async function waitForStatus(client, test) {
  for (;;) {
    const status = await client.status()
    if (test(status)) return status
    await sleep(POLL_MS)
  }
}
