import { describe, expect, it } from 'vitest'
import { stopOnInterrupt } from '../../src/cli/interrupt.js'
import type { CliIo } from '../../src/cli/io.js'
import {
  estimateRemainingMs,
  formatDuration,
  formatProgress,
  ProgressLine,
} from '../../src/cli/progress.js'

/** An io whose Ctrl-C is pressed by the test. */
function fakeIo() {
  let listener: (() => void) | null = null
  let stderr = ''
  const io: CliIo = {
    stdout: { write: () => true },
    stderr: { write: (text: string) => (stderr += text) },
    env: {},
    stderrIsTty: false,
    onInterrupt(next) {
      listener = next
      return () => {
        listener = null
      }
    },
  }
  return { io, press: () => listener?.(), stderr: () => stderr, listening: () => listener !== null }
}

describe('Ctrl-C during resign', () => {
  it('stops after the batch in flight at the first press and aborts it at the second', () => {
    const calls: unknown[] = []
    const { io, press, stderr } = fakeIo()
    const watch = stopOnInterrupt(io, { stop: async (options) => void calls.push(options ?? {}) })

    press()
    expect(calls).toEqual([{}])
    press()
    expect(calls).toEqual([{}, { abort: true }])
    expect(watch.presses).toBe(2)
    expect(stderr()).toContain('Aborting the batch in flight; it rolls back.')
  })

  it('stops listening once disposed', () => {
    const { io, listening } = fakeIo()
    const watch = stopOnInterrupt(io, { stop: async () => {} })

    watch.dispose()

    expect(listening()).toBe(false)
  })
})

describe('the progress line', () => {
  it('shows the bar, the percentage, the count, the rate and the ETA', () => {
    const line = formatProgress({
      name: 'event_resign',
      items: 12_345,
      ratePerSecond: 2_000.4,
      fractionDone: 0.5,
      etaMs: 65_000,
    })

    expect(line).toBe(
      'event_resign  [############------------]   50%  12,345 items  2,000/s  ETA 1:05',
    )
  })

  it('marks what is not known yet', () => {
    const line = formatProgress({
      name: 'x',
      items: 0,
      ratePerSecond: null,
      fractionDone: null,
      etaMs: null,
    })

    expect(line).toBe('x  [------------------------]    ?%  0 items  -/s  ETA --:--')
  })

  it('writes durations as m:ss or h:mm:ss', () => {
    expect([formatDuration(0), formatDuration(59_600), formatDuration(3_723_000)]).toEqual([
      '0:00',
      '1:00',
      '1:02:03',
    ])
  })

  it('estimates the time left from the fraction done and the time spent', () => {
    expect(estimateRemainingMs(0.25, 1_000)).toBe(3_000)
    expect(estimateRemainingMs(0, 1_000)).toBeNull()
    expect(estimateRemainingMs(null, 1_000)).toBeNull()
  })

  it('is drawn in place on a terminal and not at all elsewhere', () => {
    let terminal = ''
    let pipe = ''
    const onTerminal = new ProgressLine({ write: (text: string) => (terminal += text) }, true)
    const onPipe = new ProgressLine({ write: (text: string) => (pipe += text) }, false)

    for (const line of [onTerminal, onPipe]) {
      line.draw('one')
      line.draw('two')
      line.finish()
    }

    expect(terminal).toBe('\r\x1b[2Kone\r\x1b[2Ktwo\n')
    expect(pipe).toBe('')
  })
})
