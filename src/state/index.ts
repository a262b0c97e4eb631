export { type ReplayTarget, StateReplayer } from './apply-entry.js';
export { WalStateStore, type WalStateStoreInit } from './wal-state-store.js';
