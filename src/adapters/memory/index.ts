export { type MemoryBuiltInInstance, memoryHomeserverCapabilities } from './memory-built-ins.js'
export type {
  MemoryCapabilityContext,
  MemoryCapabilityInstance,
  MemoryCapabilityModule,
  MemoryWriteOperation,
} from './memory-capability.js'
export {
  type MemoryEventSeed,
  MemoryHomeserver,
  type MemoryProfileSeed,
} from './memory-homeserver-handle.js'
export { MemoryLease } from './memory-lease.js'
export { MemoryStorageAdapter, type MemoryStorageAdapterOptions } from './memory-storage-adapter.js'
export { MemoryJournal, MemoryTable } from './memory-table.js'
