import { describe, it } from 'vitest'

/**
 * `describe` when what the suite needs is here (`missing` undefined). Otherwise the suite is skipped
 * with a notice on the console, or, under `CI=true`, replaced by a failing test named `requirement`
 * that gives the reason, since `.ci/run` provides everything the suites need.
 */
export function describeWhenAvailable(
  name: string,
  missing: string | undefined,
  requirement: string,
  fn: () => void,
): void {
  if (missing === undefined) {
    describe(name, fn)
    return
  }

  const notice = `${name}: ${missing}`
  if (process.env.CI === 'true') {
    describe(name, () => {
      it(requirement, () => {
        throw new Error(notice)
      })
    })
    return
  }
  console.warn(`SKIPPED ${notice}`)
  describe.skip(name, fn)
}
