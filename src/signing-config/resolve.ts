import { SigilError } from '../errors/index.js';
import type { Service, ServiceConfiguration, SigningConfig } from './config.js';
import { selectService, selectServices, SUPPORTED_API_VERSIONS } from './select.js';

/** The services one signing run uses. */
export interface ChosenServices {
  caUrl?: string;
  logUrls: string[];
  /** The chosen logs that speak Rekor v2 (majorApiVersion 2); the rest speak v1. */
  rekorV2Urls: string[];
  tsaUrls: string[];
}

function severalServices(
  services: readonly Service[],
  config: ServiceConfiguration | undefined,
  supported: readonly number[],
  now: Date,
  what: string,
  field: string,
): Service[] {
  if (services.length === 0) return [];
  if (!config)
    throw new SigilError('INVALID_INPUT', `signing config lists ${what} services but no ${field}.selector`);
  return selectServices(services, config, supported, now, what);
}

function several(...args: Parameters<typeof severalServices>): string[] {
  return severalServices(...args).map((s) => s.url);
}

/** TSAs of a signing config, chosen as sigstore-go does (none when it lists none). */
export function chooseTsaUrls(config: SigningConfig, now = new Date()): string[] {
  return several(config.tsaUrls, config.tsaConfig, SUPPORTED_API_VERSIONS.tsa, now, 'TSA', 'tsaConfig');
}

/**
 * Chooses services from a signing config as sigstore-go does; an explicit URL (a flag) wins over
 * the config for its service. Without a config, only the explicit URLs are returned.
 */
export function chooseServices(
  config: SigningConfig | undefined,
  explicit: { caUrl?: string; logUrl?: string; tsaUrl?: string },
  now = new Date(),
  rekorVersions: readonly number[] = SUPPORTED_API_VERSIONS.rekor,
): ChosenServices {
  const caUrl =
    explicit.caUrl ??
    (config && config.caUrls.length > 0
      ? selectService(config.caUrls, SUPPORTED_API_VERSIONS.ca, now, 'CA').url
      : undefined);
  const sameUrl = (a: string, b: string): boolean => a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
  const logs: { url: string; majorApiVersion: number }[] = explicit.logUrl
    ? [
        {
          url: explicit.logUrl,
          // An explicit URL speaks v1 unless the signing config lists it as a v2 log.
          majorApiVersion:
            rekorVersions.includes(2) &&
            config?.rekorTlogUrls.some((s) => s.majorApiVersion === 2 && sameUrl(s.url, explicit.logUrl!))
              ? 2
              : 1,
        },
      ]
    : config
      ? severalServices(
          config.rekorTlogUrls,
          config.rekorTlogConfig,
          rekorVersions,
          now,
          'Rekor',
          'rekorTlogConfig',
        )
      : [];
  const logUrls = logs.map((l) => l.url);
  const rekorV2Urls = logs.filter((l) => l.majorApiVersion === 2).map((l) => l.url);
  const tsaUrls = explicit.tsaUrl ? [explicit.tsaUrl] : config ? chooseTsaUrls(config, now) : [];
  return { ...(caUrl ? { caUrl } : {}), logUrls, rekorV2Urls, tsaUrls };
}
