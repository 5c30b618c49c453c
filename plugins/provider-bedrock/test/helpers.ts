import { readFileSync } from 'node:fs';
import type { Logger } from '@gatehouse/sdk';
import type { RecordedRequest } from '@gatehouse/sdk/testing';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { encodeMessage } from '../src/eventstream.js';

export const json = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));

export interface LogLine { level: string; msg: string; fields?: Record<string, unknown> }
export function recordingLogger(lines: LogLine[] = []): Logger {
  const log = (level: string) => (msg: string, fields?: Record<string, unknown>) => { lines.push({ level, msg, fields }); };
  const l: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: () => l };
  return l;
}

/** A ConverseStream body in the real wire format: one event-stream frame per event. */
export function converseStreamBody(events: Array<[string, unknown]>): Buffer {
  return Buffer.concat(events.map(([type, payload]) => encodeMessage({ ':event-type': type, ':content-type': 'application/json', ':message-type': 'event' }, payload)));
}

export function exceptionFrame(type: string, message: string): Buffer {
  return Buffer.from(encodeMessage({ ':exception-type': type, ':content-type': 'application/json', ':message-type': 'exception' }, { message }));
}

const AUTH = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/bedrock\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/;

/** Parse the SigV4 authorization header a fake upstream received. */
export function parseAuth(rec: RecordedRequest) {
  const m = AUTH.exec(String(rec.headers.authorization));
  if (!m) throw new Error(`not a SigV4 authorization header: ${rec.headers.authorization}`);
  return { keyId: m[1]!, date: m[2]!, region: m[3]!, signedHeaders: m[4]!.split(';'), signature: m[5]! };
}

/**
 * Re-sign what arrived on the wire (method, raw path, the signed headers, body) with the same
 * credentials and x-amz-date: equal signatures prove the request was not altered after signing
 * (host header, path encoding, body bytes).
 */
export async function expectedAuthorization(rec: RecordedRequest, creds: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }, region: string, port: number): Promise<string> {
  const { signedHeaders } = parseAuth(rec);
  const headers: Record<string, string> = {};
  for (const h of signedHeaders) headers[h] = String(rec.headers[h]);
  const amz = String(rec.headers['x-amz-date']);
  const signingDate = new Date(`${amz.slice(0, 4)}-${amz.slice(4, 6)}-${amz.slice(6, 8)}T${amz.slice(9, 11)}:${amz.slice(11, 13)}:${amz.slice(13, 15)}Z`);
  const signer = new SignatureV4({ service: 'bedrock', region, credentials: creds, sha256: Sha256 });
  const [path] = rec.url.split('?');
  const signed = await signer.sign({ method: rec.method, protocol: 'http:', hostname: '127.0.0.1', port, path: path!, query: {}, headers, body: rec.body }, { signingDate });
  return String(signed.headers.authorization);
}
