/**
 * AWS credentials for the three `aws_config` modes, and SigV4 signing of Bedrock requests.
 * Signing and STS are done by the AWS libraries; this file only wires them together.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { fromNodeProviderChain, fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { SignatureV4 } from '@smithy/signature-v4';
import { authMode, DEFAULT_SESSION_LENGTH_SECONDS, type AwsConfig } from './config.js';

/** The shape the AWS libraries use (structurally `AwsCredentialIdentity`). */
export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

export type CredentialProvider = () => Promise<Credentials>;

/** MLflow's role session name. */
export const ROLE_SESSION_NAME = 'ai-gateway-bedrock';
/** Temporary credentials are renewed this long before they expire (the AWS SDKs' own margin). */
export const REFRESH_BEFORE_MS = 5 * 60_000;

/**
 * Cache credentials until `refreshBeforeMs` before their expiration; concurrent callers share one
 * fetch. If a renewal fails while the cached credentials are still valid, those are used.
 */
export function memoizeCredentials(provider: CredentialProvider, options: { refreshBeforeMs?: number; now?: () => number } = {}): CredentialProvider {
  const refreshBefore = options.refreshBeforeMs ?? REFRESH_BEFORE_MS;
  const now = options.now ?? Date.now;
  let cached: Credentials | undefined;
  let pending: Promise<Credentials> | undefined;
  const fresh = (c: Credentials) => !c.expiration || c.expiration.getTime() - now() > refreshBefore;
  const stillValid = (c: Credentials) => !c.expiration || c.expiration.getTime() > now();
  return async () => {
    if (cached && fresh(cached)) return cached;
    pending ??= provider().then(
      (c) => { cached = c; return c; },
      (e) => { if (cached && stillValid(cached)) return cached; throw e; },
    ).finally(() => { pending = undefined; });
    return pending;
  };
}

/** The credential provider for an `aws_config`: static keys, STS AssumeRole (renewed), or the default chain. */
export function credentialProvider(c: AwsConfig, region: string): CredentialProvider {
  const staticKeys: Credentials | undefined = c.aws_access_key_id && c.aws_secret_access_key
    ? {
      accessKeyId: c.aws_access_key_id.trim(),
      secretAccessKey: c.aws_secret_access_key.trim(),
      ...(c.aws_session_token ? { sessionToken: c.aws_session_token.trim() } : {}),
    }
    : undefined;
  switch (authMode(c)) {
    case 'keys':
      return async () => staticKeys!;
    case 'role': {
      const assume = fromTemporaryCredentials({
        params: {
          RoleArn: c.aws_role_arn!.trim(),
          RoleSessionName: ROLE_SESSION_NAME,
          DurationSeconds: c.session_length_seconds ?? DEFAULT_SESSION_LENGTH_SECONDS,
        },
        // With keys next to the role, they are the identity that assumes it; otherwise the default chain.
        ...(staticKeys ? { masterCredentials: staticKeys } : {}),
        clientConfig: { region, ...(c.sts_endpoint_url ? { endpoint: c.sts_endpoint_url.trim() } : {}) },
      });
      return memoizeCredentials(() => assume() as Promise<Credentials>);
    }
    case 'base':
      return memoizeCredentials(fromNodeProviderChain({ clientConfig: { region } }) as CredentialProvider);
  }
}

/** A request to sign and send: the URL is final (path already percent-encoded). */
export interface SignableRequest { url: string; headers: Record<string, string>; body: string }

/** Signs requests for the `bedrock` service with SigV4. */
export class BedrockSigner {
  private readonly signer: SignatureV4;

  constructor(credentials: CredentialProvider, readonly region: string) {
    this.signer = new SignatureV4({ service: 'bedrock', region, credentials, sha256: Sha256 });
  }

  /**
   * Returns the headers to send: the given ones plus `x-amz-date`, `x-amz-content-sha256`,
   * `x-amz-security-token` (temporary credentials) and `authorization`. `host` is signed but
   * left to the HTTP client, which sends the same value (`URL.host`).
   */
  async sign(req: SignableRequest, signingDate?: Date): Promise<Record<string, string>> {
    const u = new URL(req.url);
    const query: Record<string, string> = {};
    for (const [k, v] of u.searchParams) query[k] = v;
    const signed = await this.signer.sign({
      method: 'POST',
      protocol: u.protocol,
      hostname: u.hostname,
      ...(u.port ? { port: Number(u.port) } : {}),
      path: u.pathname,
      query,
      headers: { ...req.headers, host: u.host },
      body: req.body,
    }, signingDate ? { signingDate } : {});
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(signed.headers)) if (k.toLowerCase() !== 'host') out[k] = String(v);
    return out;
  }
}
