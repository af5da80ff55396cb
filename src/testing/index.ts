/**
 * The test kit: a fake clock, helpers to seed the memory adapter, and `runUntilIdle()`, so a host
 * unit-tests a custom background update in a few lines.
 *
 * @module
 */
export { FakeClock } from './fake-clock.js'
export { runUntilIdle } from './run-until-idle.js'
export { queuedUpdates, seedUpdates } from './seeding.js'
