/** What a progress line shows. */
export interface ProgressFigures {
  /** The update, such as `event_resign`. */
  readonly name: string
  /** Items processed so far. */
  readonly items: number
  /** Items per second, or null before there is a rate. */
  readonly ratePerSecond: number | null
  /** 0 to 1, or null when unknown. */
  readonly fractionDone: number | null
  /** Milliseconds left, or null when unknown. */
  readonly etaMs: number | null
}

const BAR_WIDTH = 24
const numbers = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 })

/** `1:05`, `1:02:03`, or `--:--` when unknown. */
export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms) || ms < 0) return '--:--'

  const seconds = Math.round(ms / 1000)
  const [h, m, s] = [Math.floor(seconds / 3600), Math.floor(seconds / 60) % 60, seconds % 60]
  const mmss = `${String(m).padStart(h > 0 ? 2 : 1, '0')}:${String(s).padStart(2, '0')}`
  return h > 0 ? `${h}:${mmss}` : mmss
}

/** A bar of fixed width: `[#########---------------]`. */
export function formatBar(fraction: number | null): string {
  const filled = Math.round(Math.min(Math.max(fraction ?? 0, 0), 1) * BAR_WIDTH)
  return `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]`
}

/** One progress line: name, bar, percentage, count, rate and ETA. */
export function formatProgress(figures: ProgressFigures): string {
  const percent = figures.fractionDone === null ? '  ?%' : formatPercent(figures.fractionDone)
  const rate = figures.ratePerSecond === null ? '-' : numbers.format(figures.ratePerSecond)
  return [
    figures.name,
    formatBar(figures.fractionDone),
    percent,
    `${numbers.format(figures.items)} items`,
    `${rate}/s`,
    `ETA ${formatDuration(figures.etaMs)}`,
  ].join('  ')
}

function formatPercent(fraction: number): string {
  return `${Math.floor(Math.min(Math.max(fraction, 0), 1) * 100)}%`.padStart(4)
}

/** The time left at a steady pace, from the fraction done and the time spent so far. */
export function estimateRemainingMs(fraction: number | null, elapsedMs: number): number | null {
  if (fraction === null || fraction <= 0 || fraction > 1) return null
  return (elapsedMs * (1 - fraction)) / fraction
}

/** A line redrawn in place on a terminal; does nothing elsewhere. */
export class ProgressLine {
  readonly #stream: { write(text: string): unknown }
  readonly #enabled: boolean
  #drawn = false

  constructor(stream: { write(text: string): unknown }, enabled: boolean) {
    this.#stream = stream
    this.#enabled = enabled
  }

  /** Draws the line over the previous one. */
  draw(text: string): void {
    if (!this.#enabled) return
    this.#stream.write(`\r\x1b[2K${text}`)
    this.#drawn = true
  }

  /** Ends the line, so what follows starts on a new one. */
  finish(): void {
    if (!this.#drawn) return
    this.#stream.write('\n')
    this.#drawn = false
  }
}
