import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createHttpClient, isGatewayError } from '@gatehouse/sdk';
import { startFakeUpstream, type FakeUpstream, type RecordedRequest } from '@gatehouse/sdk/testing';
import { memoizeCredentials, type Credentials } from '../src/auth.js';
import def, { type AwsConfig } from '../src/index.js';
import { expectedAuthorization, json, parseAuth, recordingLogger, type LogLine } from './helpers.js';

const MASTER = { accessKeyId: 'AKIAMASTEREXAMPLE', secretAccessKey: 'masterSecret/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const ROLE = 'arn:aws:iam::123456789012:role/gatehouse-bedrock';
const MODEL = 'amazon.titan-text-express-v1';
const http = createHttpClient();
const call = () => ({ signal: new AbortController().signal });
const titan = json('families.json').amazon;

let bedrock: FakeUpstream;
let sts: FakeUpstream;
let expiresInMs = 3_600_000;
let issued = 0;
const logs: LogLine[] = [];

/** Temporary credentials number n, as STS issued them. */
const temp = (n: number) => ({ accessKeyId: `ASIATEMP${n}EXAMPLE`, secretAccessKey: `tempSecret${n}/EXAMPLEKEY`, sessionToken: `session-token-${n}` });

const assumeRoleXml = (n: number, expiration: Date) => `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <SourceIdentity>gatehouse</SourceIdentity>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/gatehouse-bedrock/ai-gateway-bedrock</Arn>
      <AssumedRoleId>AROA3XFRBF535PLBIFPI4:ai-gateway-bedrock</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>${temp(n).accessKeyId}</AccessKeyId>
      <SecretAccessKey>${temp(n).secretAccessKey}</SecretAccessKey>
      <SessionToken>${temp(n).sessionToken}</SessionToken>
      <Expiration>${expiration.toISOString()}</Expiration>
    </Credentials>
    <PackedPolicySize>6</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata>
    <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
  </ResponseMetadata>
</AssumeRoleResponse>`;

const form = (r: RecordedRequest) => Object.fromEntries(new URLSearchParams(r.body));

beforeAll(async () => {
  bedrock = await startFakeUpstream({ [`POST /model/${MODEL}/invoke`]: { json: titan.response } });
  sts = await startFakeUpstream({ 'POST /': () => ({ text: assumeRoleXml(++issued, new Date(Date.now() + expiresInMs)), contentType: 'text/xml' }) });
});
afterAll(async () => { await bedrock.close(); await sts.close(); await http.close(); });
beforeEach(() => { bedrock.reset(); sts.reset(); issued = 0; expiresInMs = 3_600_000; logs.length = 0; });
afterEach(() => { vi.unstubAllEnvs(); });

function instance(aws: AwsConfig) {
  return def.create({
    config: { aws_config: aws, bedrock_endpoint_url: bedrock.url },
    model: { name: MODEL, provider: 'amazon-bedrock' }, endpoint: { name: 'e', endpoint_type: 'llm/v1/completions' },
    http, logger: recordingLogger(logs), timeoutMs: 5000,
  });
}

const roleConfig = (extra: Partial<AwsConfig> = {}): AwsConfig => ({
  aws_role_arn: ROLE, aws_region: 'us-west-2', sts_endpoint_url: sts.url,
  aws_access_key_id: MASTER.accessKeyId, aws_secret_access_key: MASTER.secretAccessKey, ...extra,
});

describe('role auth (STS AssumeRole on a loopback fake)', () => {
  it('assumes the role, then signs Bedrock requests with the temporary credentials and session token', async () => {
    await instance(roleConfig()).completions!(titan.request, call());
    expect(sts.requests).toHaveLength(1);
    const s = sts.last();
    expect(form(s)).toMatchObject({
      Action: 'AssumeRole', Version: '2011-06-15', RoleArn: ROLE, RoleSessionName: 'ai-gateway-bedrock', DurationSeconds: '900',
    });
    expect(String(s.headers.authorization)).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIAMASTEREXAMPLE\/\d{8}\/us-west-2\/sts\/aws4_request, /);
    const b = bedrock.last();
    expect(parseAuth(b)).toMatchObject({ keyId: 'ASIATEMP1EXAMPLE', region: 'us-west-2' });
    expect(b.headers['x-amz-security-token']).toBe('session-token-1');
    expect(await expectedAuthorization(b, temp(1), 'us-west-2', bedrock.port)).toBe(b.headers.authorization);
  });

  it('sends session_length_seconds as DurationSeconds', async () => {
    await instance(roleConfig({ session_length_seconds: 3600 })).completions!(titan.request, call());
    expect(form(sts.last()).DurationSeconds).toBe('3600');
  });

  it('reuses credentials that are far from expiry', async () => {
    const inst = instance(roleConfig());
    await inst.completions!(titan.request, call());
    await inst.completions!(titan.request, call());
    expect(sts.requests).toHaveLength(1);
    expect(bedrock.requests.map((r) => parseAuth(r).keyId)).toEqual(['ASIATEMP1EXAMPLE', 'ASIATEMP1EXAMPLE']);
  });

  it('renews credentials before they expire (inside the 5-minute margin)', async () => {
    expiresInMs = 60_000;
    const inst = instance(roleConfig());
    await inst.completions!(titan.request, call());
    await inst.completions!(titan.request, call());
    expect(sts.requests).toHaveLength(2);
    expect(bedrock.requests.map((r) => parseAuth(r).keyId)).toEqual(['ASIATEMP1EXAMPLE', 'ASIATEMP2EXAMPLE']);
    expect(bedrock.requests.map((r) => r.headers['x-amz-security-token'])).toEqual(['session-token-1', 'session-token-2']);
  });

  it('assumes the role with the default credential chain when no keys are configured', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIAFROMENVEXAMPLE');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'envSecret/EXAMPLEKEY');
    vi.stubEnv('AWS_SESSION_TOKEN', '');
    await instance({ aws_role_arn: ROLE, aws_region: 'us-west-2', sts_endpoint_url: sts.url }).completions!(titan.request, call());
    expect(String(sts.last().headers.authorization)).toContain('Credential=AKIAFROMENVEXAMPLE/');
    expect(parseAuth(bedrock.last()).keyId).toBe('ASIATEMP1EXAMPLE');
  });

  it('answers 502 when STS refuses, logs why, and never logs or returns a secret', async () => {
    sts.on('POST /', { status: 403, contentType: 'text/xml', text: `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/gw is not authorized to perform: sts:AssumeRole on resource: ${ROLE}</Message></Error><RequestId>4f6c</RequestId></ErrorResponse>` });
    const e = await instance(roleConfig()).completions!(titan.request, call()).catch((x) => x);
    expect(isGatewayError(e)).toBe(true);
    expect([e.status, e.message]).toEqual([502, 'Could not obtain AWS credentials for Amazon Bedrock.']);
    expect(bedrock.requests).toHaveLength(0);
    const logged = JSON.stringify(logs);
    expect(logged).toContain('not authorized to perform: sts:AssumeRole');
    expect(logged).not.toContain(MASTER.secretAccessKey);
    expect(JSON.stringify({ message: e.message, detail: e.detail })).not.toContain(MASTER.secretAccessKey);
    sts.on('POST /', () => ({ text: assumeRoleXml(++issued, new Date(Date.now() + expiresInMs)), contentType: 'text/xml' }));
  });
});

describe('default credential chain (base mode)', () => {
  it('signs with credentials from the environment', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIAENVBASEEXAMPLE');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'envBaseSecret/EXAMPLEKEY');
    vi.stubEnv('AWS_SESSION_TOKEN', 'env-session');
    await instance({ aws_region: 'eu-central-1' }).completions!(titan.request, call());
    const b = bedrock.last();
    expect(parseAuth(b)).toMatchObject({ keyId: 'AKIAENVBASEEXAMPLE', region: 'eu-central-1' });
    expect(b.headers['x-amz-security-token']).toBe('env-session');
    expect(await expectedAuthorization(b, { accessKeyId: 'AKIAENVBASEEXAMPLE', secretAccessKey: 'envBaseSecret/EXAMPLEKEY', sessionToken: 'env-session' }, 'eu-central-1', bedrock.port)).toBe(b.headers.authorization);
  });
});

describe('memoizeCredentials', () => {
  const creds = (id: string, expiresAt?: number): Credentials => ({ accessKeyId: id, secretAccessKey: 's', ...(expiresAt ? { expiration: new Date(expiresAt) } : {}) });

  it('shares one fetch between concurrent callers and refreshes inside the margin', async () => {
    let t = 0;
    let n = 0;
    const provider = vi.fn(async () => creds(`K${++n}`, 1_000_000));
    const get = memoizeCredentials(provider, { refreshBeforeMs: 300_000, now: () => t });
    const [a, b] = await Promise.all([get(), get()]);
    expect([a.accessKeyId, b.accessKeyId, provider.mock.calls.length]).toEqual(['K1', 'K1', 1]);
    t = 699_999;
    expect((await get()).accessKeyId).toBe('K1');
    t = 700_001;
    expect((await get()).accessKeyId).toBe('K2');
  });

  it('keeps still-valid credentials when a renewal fails, and fails once they expired', async () => {
    let t = 0;
    let fail = false;
    const get = memoizeCredentials(async () => { if (fail) throw new Error('sts down'); return creds('K', 1_000_000); }, { refreshBeforeMs: 300_000, now: () => t });
    await get();
    fail = true;
    t = 800_000;
    expect((await get()).accessKeyId).toBe('K');
    t = 1_000_001;
    await expect(get()).rejects.toThrow('sts down');
  });

  it('never refreshes credentials without an expiration', async () => {
    const provider = vi.fn(async () => creds('static'));
    const get = memoizeCredentials(provider);
    await get(); await get();
    expect(provider).toHaveBeenCalledTimes(1);
  });
});
