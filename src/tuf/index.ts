export {
  fetchTufTrustedRoot,
  SIGNING_CONFIG_TUF_TARGET,
  TRUSTED_ROOT_TARGET,
  TUF_LIMITS,
  type TufSource,
} from './client.js';
export { TufTrustedRoots, TUF_CACHE_MS } from './trusted-roots.js';
export { buildTufFiles, buildTufRoot, TUF_LIFETIMES_MS } from './repository.js';
export {
  openServedTufRepository,
  TUF_KEY_FILE,
  TUF_ROOT_FILE,
  TUF_VERSION_FILE,
  type ServedTufRepository,
} from './served-repository.js';
