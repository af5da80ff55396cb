export {
  EventResigner,
  type EventResignerOptions,
  type ResignBatchOptions,
  type ResignedOutcome,
  type ResignOutcome,
  type ResignSkipReason,
  type ResignStatus,
  type SkippedOutcome,
  type StoredEvent,
} from './event-resigner.js'
export { type RoomCurrentState, type StateEvent, serverNameOfUserId } from './room-state.js'
export {
  computeRoomStats,
  plainTextTopic,
  type RoomStats,
  type RoomStatsCurrentRow,
  type RoomStatsStateRow,
} from './room-stats.js'
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
