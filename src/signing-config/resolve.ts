import type { SigningConfig } from './config.js';
import { selectService, selectServices, SUPPORTED_API_VERSIONS } from './select.js';

/** The services one signing run uses. */
export interface ChosenServices {
  caUrl?: string;
  logUrls: string[];
  tsaUrls: string[];
}

/**
 * Chooses services from a signing config as sigstore-go does; an explicit URL (a flag) wins over
 * the config for its service. Without a config, only the explicit URLs are returned.
 */
export function chooseServices(
  config: SigningConfig | undefined,
  explicit: { caUrl?: string; logUrl?: string; tsaUrl?: string },
  now = new Date(),
): ChosenServices {
  const caUrl =
    explicit.caUrl ??
    (config && config.caUrls.length > 0
      ? selectService(config.caUrls, SUPPORTED_API_VERSIONS.ca, now, 'CA').url
      : undefined);
  const logUrls = explicit.logUrl
    ? [explicit.logUrl]
    : config && config.rekorTlogUrls.length > 0
      ? selectServices(
          config.rekorTlogUrls,
          config.rekorTlogConfig,
          SUPPORTED_API_VERSIONS.rekor,
          now,
          'Rekor',
        ).map((s) => s.url)
      : [];
  const tsaUrls = explicit.tsaUrl
    ? [explicit.tsaUrl]
    : config && config.tsaUrls.length > 0
      ? selectServices(config.tsaUrls, config.tsaConfig, SUPPORTED_API_VERSIONS.tsa, now, 'TSA').map(
          (s) => s.url,
        )
      : [];
  return { ...(caUrl ? { caUrl } : {}), logUrls, tsaUrls };
}
