import { SigilError } from '../errors/index.js';
import { canonicalJson, DIGEST_LENGTH, preAuthEncoding, sha256 } from '../crypto/index.js';
import { FieldReader, parseJsonInput, type Json } from '../bundle/protojson.js';
import { MAX_BUNDLED_ENTRY } from '../log/tiles/bundle.js';
import { assertUniqueKeys, strictObject } from './protojson.js';
import {
  HASH_ENUM,
  parseVerifier,
  verifyOverDigest,
  verifyOverMessage,
  type ParsedVerifier,
} from './verifier.js';

/** rekor-tiles --max-request-body-size. */
export const DEFAULT_V2_BODY_LIMIT = 4 * 1024 * 1024;
/** DSSE limits: rekor-tiles' 10 signatures / 10 verifiers (pkg/types/dsse, #684), and a payload cap of sigil's. */
export const DSSE_LIMITS = { maxSignatures: 10, maxVerifiers: 10, maxPayloadBytes: 1024 * 1024 } as const;
/** DER ECDSA is < 140 bytes, RSA-4096 512, Ed25519 64. */
const MAX_SIGNATURE_BYTES = 1024;

/** A validated request: what the log stores (the JCS of the logged Entry) and its kind. */
export interface LoggedEntry {
  kind: 'hashedrekord' | 'dsse';
  version: '0.0.2';
  body: Buffer;
}

function signatureBytes(r: FieldReader, v: unknown): Buffer {
  const sig = r.bytes(v, MAX_SIGNATURE_BYTES);
  if (sig.length === 0) r.fail('is empty');
  return sig;
}

function logged(kind: LoggedEntry['kind'], spec: Json): LoggedEntry {
  return loggedBody(kind, canonicalJson({ apiVersion: '0.0.2', kind, spec }));
}

function loggedBody(kind: LoggedEntry['kind'], body: Buffer): LoggedEntry {
  if (body.length > MAX_BUNDLED_ENTRY)
    throw new SigilError(
      'TOO_LARGE',
      `the logged entry would be ${body.length} bytes; a tlog-tiles entry holds at most ${MAX_BUNDLED_ENTRY}`,
    );
  return { kind, version: '0.0.2', body };
}

/** hashedrekord v0.0.2 (rekor-tiles pkg/types/hashedrekord.ToLogEntry): the signature must verify over the digest. */
function hashedRekord(r: FieldReader, v: unknown): LoggedEntry {
  const req = strictObject(r, v, ['digest', 'signature']);
  const sigR = r.at('signature');
  const sig = strictObject(sigR, req.signature ?? sigR.fail('is missing'), ['content', 'verifier']);
  const content = signatureBytes(sigR.at('content'), sig.content ?? sigR.at('content').fail('is missing'));
  const verifier = parseVerifier(sigR.at('verifier'), sig.verifier ?? sigR.at('verifier').fail('is missing'));
  const digest = r.at('digest').bytes(req.digest ?? r.at('digest').fail('is missing'), 64);
  if (digest.length !== DIGEST_LENGTH[verifier.hash])
    r.at('digest').fail(
      `is ${digest.length} bytes; ${verifier.json.keyDetails as string} signs a ${DIGEST_LENGTH[verifier.hash]}-byte ${verifier.hash} digest`,
    );
  if (!verifyOverDigest(verifier, digest, content))
    throw new SigilError(
      'INVALID_SIGNATURE',
      'the signature does not verify over the digest with the given key',
    );
  return loggedBody('hashedrekord', hashedRekordJcs(verifier, digest, content));
}

/**
 * The JCS of a hashedrekord v0.0.2 entry, assembled as text (canonicalize took about a sixth of a
 * verifier thread's time per entry besides the signature check): every member is a fixed name, an
 * enum name or base64, none needing an escape, written in JCS member order.
 */
function hashedRekordJcs(verifier: ParsedVerifier, digest: Buffer, content: Buffer): Buffer {
  return Buffer.from(
    `{"apiVersion":"0.0.2","kind":"hashedrekord","spec":{"hashedRekordV002":{"data":{"algorithm":"${HASH_ENUM[verifier.hash]}","digest":"${digest.toString('base64')}"},"signature":{"content":"${content.toString('base64')}","verifier":${verifier.jcs}}}}}`,
    'latin1',
  );
}

/**
 * dsse v0.0.2 (rekor-tiles pkg/types/dsse before #744, which @sigstore/sign 5.1 still sends): every
 * envelope signature must verify over the PAE with one of the verifiers; the entry logs the
 * payload's SHA-256 and the signatures sorted by their bytes, each with the verifier that verified it.
 */
function dsse(r: FieldReader, v: unknown): LoggedEntry {
  const req = strictObject(r, v, ['envelope', 'verifiers']);
  const er = r.at('envelope');
  const env = strictObject(er, req.envelope ?? er.fail('is missing'), [
    'payload',
    'payloadType',
    'signatures',
  ]);
  const payload = er.at('payload').bytes(env.payload ?? '', DSSE_LIMITS.maxPayloadBytes);
  if (payload.length > DSSE_LIMITS.maxPayloadBytes)
    er.at('payload').fail(`is longer than ${DSSE_LIMITS.maxPayloadBytes} bytes`);
  const payloadType = er.at('payloadType').string(env.payloadType ?? '', 256);
  const sigs = er
    .at('signatures')
    .array(env.signatures, DSSE_LIMITS.maxSignatures)
    .map((s, i) => {
      const o = strictObject(er.at('signatures').at(i), s, ['sig', 'keyid']);
      er.at('signatures').at(i).at('keyid').optionalString(o.keyid, 1024);
      return signatureBytes(er.at('signatures').at(i).at('sig'), o.sig ?? '');
    });
  if (sigs.length === 0) er.at('signatures').fail('must hold a signature');
  const vr = r.at('verifiers');
  const verifiers = vr
    .array(req.verifiers, DSSE_LIMITS.maxVerifiers)
    .map((x, i) => parseVerifier(vr.at(i), x));
  if (verifiers.length === 0) vr.fail('must name a verifier');
  if (new Set(verifiers.map((x) => x.der.toString('base64'))).size !== verifiers.length)
    vr.fail('names one key twice');
  const pae = preAuthEncoding(payloadType, payload);
  const signed = new Map<string, ParsedVerifier>();
  for (const sig of sigs) {
    const by = verifiers.find((x) => verifyOverMessage(x, pae, sig));
    if (!by)
      throw new SigilError(
        'INVALID_SIGNATURE',
        'an envelope signature does not verify with any given verifier',
      );
    signed.set(sig.toString('latin1'), by);
  }
  const ordered = [...signed.entries()].sort(([a], [b]) =>
    Buffer.compare(Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1')),
  );
  return logged('dsse', {
    dsseV002: {
      payloadHash: { algorithm: 'SHA2_256', digest: sha256(payload).toString('base64') },
      signatures: ordered.map(([sig, by]) => ({
        content: Buffer.from(sig, 'latin1').toString('base64'),
        verifier: by.json,
      })),
    },
  });
}

/**
 * A CreateEntryRequest (protojson, strict): `hashedRekordRequestV002` or `dsseRequestV002`.
 * Every failure is a SigilError with a 4xx code; nothing here touches the log.
 */
export function parseCreateEntryRequest(text: string, maxBytes = DEFAULT_V2_BODY_LIMIT): LoggedEntry {
  const r = new FieldReader('INVALID_ENTRY', '');
  const input = r.object(parseJsonInput(text, 'INVALID_JSON', 'request body', maxBytes));
  assertUniqueKeys(new FieldReader('INVALID_JSON', 'request body'), text);
  const kinds = ['hashedRekordRequestV002', 'dsseRequestV002'];
  const unknown = Object.keys(input).find(
    (k) => !kinds.includes(k.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase())),
  );
  if (unknown !== undefined)
    throw new SigilError(
      'INVALID_ENTRY',
      `invalid type: unknown field ${JSON.stringify(unknown.slice(0, 64))}; the request must be a hashedRekordRequestV002 or dsseRequestV002 (Rekor v2 API)`,
    );
  const doc = strictObject(r, input, kinds);
  const keys = Object.keys(doc);
  if (keys.length !== 1)
    throw new SigilError(
      'INVALID_ENTRY',
      'invalid type: the request must hold exactly one of hashedRekordRequestV002, dsseRequestV002',
    );
  return keys[0] === 'hashedRekordRequestV002'
    ? hashedRekord(r.at('hashedRekordRequestV002'), doc.hashedRekordRequestV002)
    : dsse(r.at('dsseRequestV002'), doc.dsseRequestV002);
}
