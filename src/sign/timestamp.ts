import 'reflect-metadata';
import { createHash, randomBytes } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { SignedData } from '@peculiar/asn1-cms';
import { MessageImprint, PKIStatus, TimeStampReq, TimeStampResp, TSTInfo } from '@peculiar/asn1-tsp';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { SigilError } from '../errors/index.js';
import { fetchBounded } from '../http/index.js';
import { arrayBufferOf, HASH_OIDS } from '../tsa/asn1.js';
import type { Progress } from './types.js';

export const TSA_TIMEOUT_MS = 20_000;
export const MAX_TIMESTAMP_RESPONSE_BYTES = 64 * 1024;

/** Asks for RFC 3161 timestamps over signatures. */
export interface Timestamper {
  /** A DER TimeStampResp (status granted) over SHA-256 of the raw signature bytes. */
  timestamp(signature: Buffer): Promise<Buffer>;
}

/**
 * A client of an RFC 3161 TSA (`POST <url>` with a DER TimeStampReq; the URL is the full
 * timestamp URL, as a SigningConfig lists it). It checks the answer is a granted token for this
 * request (imprint and nonce); whether the TSA is trusted is the verifier's business.
 */
export class TsaClient implements Timestamper {
  constructor(
    readonly url: string,
    private readonly timeoutMs = TSA_TIMEOUT_MS,
    private readonly progress?: Progress,
  ) {}

  async timestamp(signature: Buffer): Promise<Buffer> {
    const digest = createHash('sha256').update(signature).digest();
    const nonce = randomBytes(8);
    // A positive INTEGER in minimal DER: the top bit clear (not negative) and the next one set (no
    // leading zero byte to pad away; a nonce starting 0x00 0x0… is illegal padding to OpenSSL).
    nonce[0] = (nonce[0]! & 0x7f) | 0x40;
    const request = new TimeStampReq({
      version: 1,
      messageImprint: new MessageImprint({
        hashAlgorithm: new AlgorithmIdentifier({ algorithm: HASH_OIDS.sha256 }),
        hashedMessage: new OctetString(arrayBufferOf(digest)),
      }),
      nonce: arrayBufferOf(nonce),
      certReq: true,
    });
    const res = await fetchBounded(this.url, {
      timeoutMs: this.timeoutMs,
      maxBytes: MAX_TIMESTAMP_RESPONSE_BYTES,
      what: `timestamp authority ${this.url}`,
      init: {
        method: 'POST',
        headers: { 'content-type': 'application/timestamp-query', accept: 'application/timestamp-reply' },
        body: Buffer.from(AsnConvert.serialize(request)),
      },
    });
    const body = res.bytes;
    if (res.status !== 200 && res.status !== 201)
      throw new SigilError(
        'UPSTREAM_ERROR',
        `timestamp authority ${this.url} answered ${res.status}: ${body.subarray(0, 200).toString()}`,
      );
    const info = grantedInfo(body, this.url);
    if (!Buffer.from(info.messageImprint.hashedMessage.buffer).equals(digest))
      throw new SigilError('UPSTREAM_ERROR', `timestamp from ${this.url} is over another imprint`);
    if (!info.nonce || !Buffer.from(info.nonce).equals(nonce))
      throw new SigilError('UPSTREAM_ERROR', `timestamp from ${this.url} does not echo the nonce`);
    this.progress?.(`timestamp from ${this.url} at ${info.genTime.toISOString()}`);
    return body;
  }
}

/** The TSTInfo of a granted TimeStampResp; anything else is an UPSTREAM_ERROR. */
function grantedInfo(der: Buffer, url: string): TSTInfo {
  try {
    const resp = AsnConvert.parse(der, TimeStampResp);
    const status = resp.status.status;
    if (status !== PKIStatus.granted && status !== PKIStatus.grantedWithMods) {
      const text = resp.status.statusString?.join('; ') ?? '';
      throw new Error(`status ${PKIStatus[status] ?? status}${text ? `: ${text}` : ''}`);
    }
    if (!resp.timeStampToken) throw new Error('no token');
    const signed = AsnConvert.parse(resp.timeStampToken.content, SignedData);
    const content = signed.encapContentInfo.eContent?.single;
    if (!content) throw new Error('token has no TSTInfo');
    return AsnConvert.parse(content.buffer, TSTInfo);
  } catch (e) {
    throw new SigilError(
      'UPSTREAM_ERROR',
      `timestamp authority ${url} refused or sent garbage: ${(e as Error).message}`,
    );
  }
}
