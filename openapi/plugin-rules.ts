// The checks Dify applies to a plugin package (dify.md §2.2–2.4: the daemon's manifest validation, its
// declaration struct tags, the SDK's models), run on the files before they are zipped.
import yaml from 'js-yaml';

type Json = Record<string, unknown>;

const VERSION = /^\d{1,4}(\.\d{1,4}){2}(-\w{1,16})?$/;
const AUTHOR = /^[a-z0-9_-]{1,64}$/;
const PLUGIN_NAME = /^[a-z0-9_-]{1,128}$/;
const TOOL_NAME = /^[a-zA-Z0-9_-]+$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const PARAM_TYPES = ['string', 'number', 'boolean', 'select', 'secret-input', 'file', 'files', 'app-selector', 'model-selector', 'any', 'dynamic-select', 'array', 'object', 'checkbox', 'date', 'date-range'];
const CREDENTIAL_TYPES = ['secret-input', 'text-input', 'select', 'boolean', 'model-selector', 'app-selector', 'array[tools]'];
const TAGS = ['search', 'image', 'videos', 'weather', 'finance', 'design', 'travel', 'social', 'news', 'medical', 'productivity', 'education', 'business', 'entertainment', 'utilities', 'agent', 'rag', 'other', 'trigger'];

function i18nProblem(where: string, v: unknown): string | undefined {
  const en = (v as Json | undefined)?.en_US;
  if (typeof en !== 'string' || en.length < 1 || en.length > 1023) return `${where}: needs en_US text (1 to 1023 characters)`;
  return undefined;
}

function load(files: Map<string, string>, path: string, problems: string[]): Json | undefined {
  const text = files.get(path);
  if (text === undefined) {
    problems.push(`${path}: missing`);
    return undefined;
  }
  try {
    const doc = yaml.load(text);
    if (typeof doc === 'object' && doc !== null) return doc as Json;
    problems.push(`${path}: not a YAML mapping`);
  } catch (err) {
    problems.push(`${path}: not YAML (${(err as Error).message.split('\n')[0]})`);
  }
  return undefined;
}

export function checkPlugin(files: Map<string, string>): string[] {
  const problems: string[] = [];
  const add = (p: string | undefined): void => {
    if (p) problems.push(p);
  };
  const m = load(files, 'manifest.yaml', problems);
  if (!m) return problems;
  if (typeof m.version !== 'string' || !VERSION.test(m.version)) problems.push(`manifest.yaml: version ${String(m.version)} must match ${VERSION}`);
  if (m.type !== 'plugin') problems.push('manifest.yaml: type must be plugin');
  if (typeof m.author !== 'string' || !AUTHOR.test(m.author)) problems.push(`manifest.yaml: author ${String(m.author)} must match ${AUTHOR} (lower case)`);
  else if (m.author === 'langgenius') problems.push('manifest.yaml: author langgenius is reserved for signed official plugins');
  if (typeof m.name !== 'string' || !PLUGIN_NAME.test(m.name)) problems.push(`manifest.yaml: name must match ${PLUGIN_NAME}`);
  add(i18nProblem('manifest.yaml: label', m.label));
  add(i18nProblem('manifest.yaml: description', m.description));
  if (typeof m.icon !== 'string' || !files.has(`_assets/${m.icon}`)) problems.push(`manifest.yaml: icon ${String(m.icon)} is not in _assets/`);
  if (typeof (m.resource as Json | undefined)?.memory !== 'number') problems.push('manifest.yaml: resource.memory is required');
  const meta = (m.meta ?? {}) as Json;
  const runner = (meta.runner ?? {}) as Json;
  if (typeof meta.version !== 'string') problems.push('manifest.yaml: meta.version is required');
  if (!Array.isArray(meta.arch) || meta.arch.length === 0 || meta.arch.some((a) => a !== 'amd64' && a !== 'arm64')) problems.push('manifest.yaml: meta.arch must list amd64 and/or arm64');
  if (runner.language !== 'python' || typeof runner.version !== 'string' || typeof runner.entrypoint !== 'string') problems.push('manifest.yaml: meta.runner needs language python, version and entrypoint');
  else if (!files.has(`${runner.entrypoint}.py`)) problems.push(`manifest.yaml: entrypoint ${runner.entrypoint}.py is missing`);
  if (typeof m.created_at !== 'string' || !RFC3339.test(m.created_at)) problems.push('manifest.yaml: created_at must be an RFC 3339 time');
  for (const tag of (m.tags as unknown[] | undefined) ?? []) if (!TAGS.includes(String(tag))) problems.push(`manifest.yaml: unknown tag ${String(tag)}`);
  const providers = ((m.plugins as Json | undefined)?.tools as unknown[] | undefined) ?? [];
  if (providers.length === 0) problems.push('manifest.yaml: plugins.tools must list a provider');

  for (const providerPath of providers.map(String)) {
    const p = load(files, providerPath, problems);
    if (!p) continue;
    const id = (p.identity ?? {}) as Json;
    if (typeof id.author !== 'string' || !AUTHOR.test(id.author)) problems.push(`${providerPath}: identity.author must match ${AUTHOR}`);
    if (typeof id.name !== 'string' || !TOOL_NAME.test(id.name)) problems.push(`${providerPath}: identity.name must match ${TOOL_NAME}`);
    add(i18nProblem(`${providerPath}: identity.label`, id.label));
    add(i18nProblem(`${providerPath}: identity.description`, id.description));
    if (typeof id.icon !== 'string' || !files.has(`_assets/${id.icon}`)) problems.push(`${providerPath}: identity.icon is not in _assets/`);
    for (const [name, cred] of Object.entries((p.credentials_for_provider ?? {}) as Record<string, Json>)) {
      if (!CREDENTIAL_TYPES.includes(String(cred.type))) problems.push(`${providerPath}: credential ${name} has unknown type ${String(cred.type)}`);
      add(i18nProblem(`${providerPath}: credential ${name} label`, cred.label));
    }
    const source = ((p.extra as Json | undefined)?.python as Json | undefined)?.source;
    if (typeof source !== 'string' || !files.has(source)) problems.push(`${providerPath}: extra.python.source is missing`);
    for (const toolPath of ((p.tools as unknown[] | undefined) ?? []).map(String)) {
      const t = load(files, toolPath, problems);
      if (!t) continue;
      const ti = (t.identity ?? {}) as Json;
      if (typeof ti.name !== 'string' || !TOOL_NAME.test(ti.name)) problems.push(`${toolPath}: identity.name must match ${TOOL_NAME}`);
      if (typeof ti.author !== 'string') problems.push(`${toolPath}: identity.author is required`);
      add(i18nProblem(`${toolPath}: identity.label`, ti.label));
      const d = (t.description ?? {}) as Json;
      add(i18nProblem(`${toolPath}: description.human`, d.human));
      if (typeof d.llm !== 'string' || d.llm === '') problems.push(`${toolPath}: description.llm is required`);
      for (const [i, raw] of ((t.parameters as Json[] | undefined) ?? []).entries()) {
        const where = `${toolPath}: parameters.${i} (${String(raw.name)})`;
        if (typeof raw.name !== 'string' || raw.name === '') problems.push(`${where}: name is required`);
        if (!PARAM_TYPES.includes(String(raw.type))) problems.push(`${where}: unknown type ${String(raw.type)}`);
        if (!['llm', 'form', 'schema'].includes(String(raw.form))) problems.push(`${where}: form must be llm, form or schema`);
        add(i18nProblem(`${where}: label`, raw.label));
        add(i18nProblem(`${where}: human_description`, raw.human_description));
        if (raw.type === 'select' && !Array.isArray(raw.options)) problems.push(`${where}: a select needs options`);
      }
      const tsource = ((t.extra as Json | undefined)?.python as Json | undefined)?.source;
      if (typeof tsource !== 'string' || !files.has(tsource)) problems.push(`${toolPath}: extra.python.source is missing`);
    }
  }
  if (!files.has('requirements.txt')) problems.push('requirements.txt: missing');
  return problems;
}
