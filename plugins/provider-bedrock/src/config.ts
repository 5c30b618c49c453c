/** The `model.config` of a Bedrock endpoint (spec §6.3), its schema and the rules a schema can't say. */
import type { JSONSchema } from '@gatehouse/sdk';

export interface AwsConfig {
  /** Role mode: assume this role with STS. */
  aws_role_arn?: string;
  session_length_seconds?: number;
  /** Key mode (or, with `aws_role_arn`, the credentials that assume the role). */
  aws_access_key_id?: string;
  aws_secret_access_key?: string;
  aws_session_token?: string;
  aws_region?: string;
  /** The STS endpoint used in role mode (for private endpoints, FIPS, tests). */
  sts_endpoint_url?: string;
}

export interface BedrockConfig {
  aws_config: AwsConfig;
  /** Base URL of bedrock-runtime; default `https://bedrock-runtime.<region>.amazonaws.com`. */
  bedrock_endpoint_url?: string;
}

export const DEFAULT_SESSION_LENGTH_SECONDS = 900;

/** Every string field of `aws_config` is resolved like an API key (`$ENV`, key file, literal). */
export const KEY_FIELDS = [
  'aws_config.aws_role_arn',
  'aws_config.aws_access_key_id',
  'aws_config.aws_secret_access_key',
  'aws_config.aws_session_token',
  'aws_config.aws_region',
  'aws_config.sts_endpoint_url',
] as const;

const keyDoc = 'Resolved like an API key: `$ENV_VAR`, a path to a file holding it, or the value itself.';

export const configSchema: JSONSchema = {
  type: 'object',
  required: ['aws_config'],
  additionalProperties: false,
  properties: {
    aws_config: {
      type: 'object',
      additionalProperties: false,
      description: 'AWS credentials. Role mode (`aws_role_arn`), key mode (`aws_access_key_id` + `aws_secret_access_key`), '
        + 'or neither: the default AWS credential chain (environment, shared files, SSO, container/instance metadata).',
      properties: {
        aws_role_arn: { type: 'string', description: `Role to assume with STS AssumeRole (session name "ai-gateway-bedrock"). ${keyDoc}` },
        session_length_seconds: {
          type: 'integer', minimum: 900, maximum: 43200,
          description: `Role mode: the STS session length (DurationSeconds), default ${DEFAULT_SESSION_LENGTH_SECONDS}. Credentials are renewed 5 minutes before they expire.`,
        },
        aws_access_key_id: { type: 'string', description: `Access key id (key mode, or the caller identity of role mode). ${keyDoc}` },
        aws_secret_access_key: { type: 'string', description: `Secret access key; never logged. ${keyDoc}` },
        aws_session_token: { type: 'string', description: `Session token for temporary keys. ${keyDoc}` },
        aws_region: { type: 'string', description: `Region, e.g. us-east-1. Default: AWS_REGION, then AWS_DEFAULT_REGION from the environment. ${keyDoc}` },
        sts_endpoint_url: { type: 'string', description: `Role mode: STS endpoint URL (default: the regional STS endpoint). ${keyDoc}` },
      },
    },
    bedrock_endpoint_url: {
      type: 'string',
      description: 'Base URL of the Bedrock runtime (proxies, VPC endpoints, tests). Default https://bedrock-runtime.<region>.amazonaws.com.',
    },
  },
};

const isUrl = (s: string) => { try { new URL(s); return true; } catch { return false; } };

/** The region requests are signed for: `aws_config.aws_region`, else AWS_REGION / AWS_DEFAULT_REGION. */
export function resolveRegion(c: AwsConfig, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return c.aws_region?.trim() || env.AWS_REGION?.trim() || env.AWS_DEFAULT_REGION?.trim() || undefined;
}

export type AuthMode = 'role' | 'keys' | 'base';

/** Which of MLflow's `aws_config` union members a config is (tried in MLflow's order: role, keys, base). */
export function authMode(c: AwsConfig): AuthMode {
  if (c.aws_role_arn) return 'role';
  if (c.aws_access_key_id || c.aws_secret_access_key) return 'keys';
  return 'base';
}

export function validateConfig(c: BedrockConfig, env: NodeJS.ProcessEnv = process.env): string[] {
  const problems: string[] = [];
  const a = c.aws_config ?? {};
  if (Boolean(a.aws_access_key_id) !== Boolean(a.aws_secret_access_key)) {
    problems.push('aws_config.aws_access_key_id and aws_config.aws_secret_access_key must be given together.');
  }
  if (a.aws_session_token && !a.aws_access_key_id) problems.push('aws_config.aws_session_token needs aws_config.aws_access_key_id and aws_config.aws_secret_access_key.');
  if (!a.aws_role_arn) {
    if (a.session_length_seconds !== undefined) problems.push('aws_config.session_length_seconds only applies together with aws_config.aws_role_arn.');
    if (a.sts_endpoint_url !== undefined) problems.push('aws_config.sts_endpoint_url only applies together with aws_config.aws_role_arn.');
  }
  if (a.sts_endpoint_url !== undefined && !isUrl(a.sts_endpoint_url)) problems.push(`aws_config.sts_endpoint_url must be an absolute URL, got '${a.sts_endpoint_url}'.`);
  if (c.bedrock_endpoint_url !== undefined && !isUrl(c.bedrock_endpoint_url)) problems.push(`bedrock_endpoint_url must be an absolute URL, got '${c.bedrock_endpoint_url}'.`);
  if (!resolveRegion(a, env)) problems.push('No AWS region: set aws_config.aws_region, or AWS_REGION / AWS_DEFAULT_REGION in the environment.');
  return problems;
}
