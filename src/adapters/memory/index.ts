export type {
  MemoryCapabilityContext,
  MemoryCapabilityInstance,
  MemoryCapabilityModule,
  MemoryWriteOperation,
} from './memory-capability.js'
export { MemoryLease } from './memory-lease.js'
export { MemoryStorageAdapter, type MemoryStorageAdapterOptions } from './memory-storage-adapter.js'
export { MemoryJournal, MemoryTable } from './memory-table.js'
