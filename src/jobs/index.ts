export {
  EVENT_RESIGN,
  EVENT_RESIGN_START,
  type EventResignJobOptions,
  eventResignJob,
} from './event-resign-job.js'
export { type EventResignParams, validateEventResignParams } from './event-resign-params.js'
export {
  EVENT_RESIGN_REVERT,
  type EventResignRevertJobOptions,
  eventResignRevertJob,
} from './event-resign-revert-job.js'
export {
  EventResigner,
  type EventResignerOptions,
  type ResignBatchOptions,
  type ResignedOutcome,
  type ResignedTextOutcome,
  type ResignOutcome,
  type ResignSkipReason,
  type ResignStatus,
  type ResignTextOutcome,
  type SkippedOutcome,
  type StoredEvent,
} from './event-resigner.js'
export type { RevertSkipReason } from './event-signature-revert.js'
export {
  POPULATE_STATS,
  type PopulateStatsJobOptions,
  populateStatsJob,
} from './populate-stats-job.js'
export {
  REGENERATE_DIRECTORY_UPDATES,
  type RegenerateDirectoryJobOptions,
  regenerateDirectoryJob,
} from './regenerate-directory-job.js'
export type {
  OffloadedKeys,
  OffloadedOutcome,
  OffloadedResigned,
  OffloadedVerifyKey,
  ResignOffload,
  ResignOffloadRequest,
  ResignSigningRequest,
  StoredEventText,
} from './resign-offload.js'
export { type RoomCurrentState, type StateEvent, serverNameOfUserId } from './room-state.js'
export {
  computeRoomStats,
  plainTextTopic,
  type RoomStats,
  type RoomStatsCurrentRow,
  type RoomStatsStateRow,
} from './room-stats.js'
export {
  UNDO_LOG_PRUNE,
  type UndoLogPruneJobOptions,
  undoLogPruneJob,
} from './undo-log-prune-job.js'
export {
  computeRoomDirectoryRows,
  type GlobalProfile,
  isRoomPublicForDirectory,
  localUserDirectoryEntry,
  type RoomDirectoryRows,
  type UserDirectoryEntry,
  type UserDirectoryOptions,
  type UserInPublicRoomRow,
  type UsersWhoSharePrivateRoomRow,
} from './user-directory.js'
