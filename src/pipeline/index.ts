export {
  type ChangelogStoreConfig,
  type OpenedChangelogStore,
  openChangelogAwareStore,
} from './open-changelog-store.js';
