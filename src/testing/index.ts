/**
 * The test kit: a fake clock, helpers to seed the memory adapter, and `runUntilIdle()`, so a host
 * unit-tests a custom background update in a few lines.
 *
 * @module
 */
export {
  type ContractContext,
  type ContractExpect,
  type ContractHomeserver,
  type ContractSubject,
  type ContractTestFunctions,
  type MakeContractSubject,
  runAdapterContract,
  type WithSubject,
} from './adapter-contract.js'
export {
  type DataSetOptions,
  type DataSetSummary,
  type DataSetTarget,
  generateDataSet,
} from './data-generator.js'
export { FakeClock } from './fake-clock.js'
export { createHomeserverStorage, homeserverOf } from './homeserver.js'
export { runUntilIdle } from './run-until-idle.js'
export { queuedUpdates, seedUpdates } from './seeding.js'
