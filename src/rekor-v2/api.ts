/** rekor-tiles' write endpoint (api/proto/rekor/v2/rekor_service.proto), under the log's base URL. */
export const V2_CREATE_PATH = '/api/v2/log/entries';
