import { openAICompatible } from '@gatehouse/sdk';

export interface OpenAIConfig {
  openai_api_key: string;
  openai_api_type?: string;
  openai_api_base?: string;
  openai_api_version?: string;
  openai_deployment_name?: string;
  openai_organization?: string;
}

const TYPES = ['openai', 'azure', 'azuread'];
const apiType = (c: OpenAIConfig) => (c.openai_api_type ?? 'openai').toLowerCase();

/** OpenAI and Azure OpenAI (spec §6.3, §11.1). */
export default openAICompatible<OpenAIConfig>({
  name: 'openai',
  displayName: 'OpenAI',
  // o-series models require max_completion_tokens and refuse max_tokens: pass it on as it is.
  acceptsMaxCompletionTokens: true,
  configSchema: {
    type: 'object',
    required: ['openai_api_key'],
    additionalProperties: false,
    properties: {
      openai_api_key: { type: 'string', description: 'API key: `$ENV_VAR`, a path to a file holding it, or the key itself.' },
      openai_api_type: { type: 'string', description: '`openai` (default), `azure` or `azuread` (case-insensitive).' },
      openai_api_base: { type: 'string', description: 'Base URL. Default https://api.openai.com/v1; required for Azure.' },
      openai_api_version: { type: 'string', description: 'Sent as `?api-version=`; required for Azure.' },
      openai_deployment_name: { type: 'string', description: 'Azure deployment; only for azure/azuread.' },
      openai_organization: { type: 'string', description: 'Sent as `OpenAI-Organization`; only for openai.' },
    },
  },
  validate(c) {
    const t = apiType(c);
    if (!TYPES.includes(t)) return `Invalid OpenAI API type '${c.openai_api_type}'. Expected one of: openai, azure, azuread.`;
    if (t === 'openai' && c.openai_deployment_name !== undefined) {
      return `OpenAI route configuration can only specify a value for 'openai_deployment_name' if 'openai_api_type' is 'azure' or 'azuread'. Found type: '${t}'`;
    }
    if (t !== 'openai') {
      const problems: string[] = [];
      if (c.openai_organization !== undefined) problems.push(`OpenAI route configuration can only specify a value for 'openai_organization' if 'openai_api_type' is 'openai'. Found type: '${t}'`);
      if (!c.openai_api_base || !c.openai_deployment_name || !c.openai_api_version) {
        problems.push(`OpenAI route configuration must specify 'openai_api_base', 'openai_deployment_name', and 'openai_api_version' if 'openai_api_type' is '${t}'.`);
      }
      return problems;
    }
  },
  target({ config: c, model }) {
    const t = apiType(c);
    const query = { 'api-version': c.openai_api_version };
    if (t === 'openai') {
      const headers: Record<string, string> = { authorization: `Bearer ${c.openai_api_key}` };
      if (c.openai_organization) headers['openai-organization'] = c.openai_organization;
      return { baseUrl: c.openai_api_base ?? 'https://api.openai.com/v1', query, headers, model: model.name };
    }
    const base = `${c.openai_api_base!.replace(/\/+$/, '')}/openai/deployments/${encodeURIComponent(c.openai_deployment_name!)}`;
    const headers: Record<string, string> = t === 'azure' ? { 'api-key': c.openai_api_key } : { authorization: `Bearer ${c.openai_api_key}` };
    return { baseUrl: base, query, headers, model: null };
  },
});
