/**
 * deploy/: the Kubernetes manifests, the NATS and CloudNativePG examples, the Prometheus rules
 * and configuration and the Grafana dashboard are checked with the tools that will read them.
 *
 * - kustomize (kubectl kustomize) renders the base and the production overlay; every rendered
 *   object is validated against the Kubernetes JSON schema of its kind (kubernetes-models, the
 *   Kubernetes 1.27 OpenAPI as compiled validators), strictly: a field the schema does not know,
 *   a typo such as `readinessprobe`, fails like kubeconform --strict would.
 * - What the apps need is checked against the code: probes on /ready and /health at the port the
 *   app listens on (PORT, METRICS_PORT, SCHEDULER_METRICS_PORT), the Prometheus annotations on the
 *   same port, every variable set is one an app reads, Secrets and ConfigMaps referenced exist
 *   or are the documented external ones.
 * - promtool checks alerts.yml, runs its unit tests (alerts.test.yml) and checks prometheus.yml;
 *   every dashboard query is parsed by Prometheus' own PromQL grammar and checked by promtool.
 * - Every metric name used by the dashboard and the alerts is registered in the code (apps/,
 *   libs/) or by prom-client's default metrics, or is listed below as coming from a named exporter.
 *
 * Tools: kubectl with kustomize >= v4 and promtool (Debian package prometheus). A missing tool
 * fails these tests; .ci/run installs promtool, and kubectl comes with the machine image.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { parser as promqlParser } from '@prometheus-io/lezer-promql';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IHTTPGetAction } from 'kubernetes-models/v1/HTTPGetAction';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { createMetricsRegistry } from '@waitpoints/platform';

const ROOT = resolve(__dirname, '../..');
const DEPLOY = join(ROOT, 'deploy');
const KUSTOMIZATIONS = ['deploy/kubernetes/base', 'deploy/kubernetes/overlays/production'];

/** A Secret the manifests reference but do not create, and who creates it. */
const EXTERNAL_SECRETS: Record<string, string> = {
  'waitpoints-secrets': 'the operator (docs/deployment.md): API_KEYS, SIGNING_SECRETS, DATABASE_URL',
  'waitpoints-db-app': 'CloudNativePG, for the Cluster in deploy/postgres/cluster.yaml',
  'waitpoints-tls': 'the operator or cert-manager (the Ingress certificate)',
};

/** Variables the apps do not read through their config but the runtime does. */
const RUNTIME_VARIABLES = new Set(['NODE_OPTIONS']);

/**
 * Metric names used by the dashboard or the alerts that our code does not register, with the
 * exporter that does. Anything else must be registered in apps/ or libs/.
 */
const EXTERNAL_METRICS: Record<string, string> = {
  up: 'Prometheus itself, one per scrape target',
  nats_consumer_num_pending: 'prometheus-nats-exporter (NATS chart promExporter, -jsz=all, prefix nats)',
  nats_consumer_num_ack_pending: 'prometheus-nats-exporter (NATS chart promExporter, -jsz=all, prefix nats)',
  nats_consumer_delivered_stream_seq: 'prometheus-nats-exporter (NATS chart promExporter, -jsz=all, prefix nats)',
  cnpg_backends_total: 'CloudNativePG instance exporter (default monitoring queries, "backends")',
  cnpg_backends_max_tx_duration_seconds: 'CloudNativePG instance exporter (default monitoring queries, "backends")',
  cnpg_pg_settings_setting: 'CloudNativePG instance exporter (default monitoring queries, "pg_settings")',
  kube_deployment_status_replicas_available: 'kube-state-metrics',
  kube_deployment_spec_replicas: 'kube-state-metrics',
};

// ---------------------------------------------------------------------------------------------
// Tools

interface Run {
  stdout: string;
  stderr: string;
}

const TOOL_HINTS: Record<string, string> = {
  kubectl:
    'kubectl (with kustomize >= v4, i.e. kubectl >= 1.21) renders deploy/kubernetes. The machine image ships one ' +
    '(/usr/bin/kubectl); Debian bookworm only has kubernetes-client 1.20, whose kustomize v2 cannot read the overlay.',
  promtool: 'promtool checks deploy/prometheus: apt-get install prometheus (.ci/run installs it when missing).',
};

/** Runs a tool and returns its output; a missing tool or a failure throws with everything said. */
function run(tool: string, args: string[], cwd = ROOT): Run {
  const result = spawnSync(tool, args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.error) {
    const code = (result.error as NodeJS.ErrnoException).code;
    throw new Error(
      code === 'ENOENT'
        ? `${tool} is not installed. ${TOOL_HINTS[tool] ?? ''}`
        : `${tool} ${args.join(' ')} could not run: ${result.error.message}`,
    );
  }
  if (result.status !== 0) {
    throw new Error(`${tool} ${args.join(' ')} exited with ${result.status}:\n${result.stdout}\n${result.stderr}`);
  }
  return { stdout: result.stdout, stderr: result.stderr };
}

function kustomizeMajorVersion(): number {
  const { stdout } = run('kubectl', ['version', '--client', '-o', 'json']);
  const version = (JSON.parse(stdout) as { kustomizeVersion?: string }).kustomizeVersion ?? '';
  const major = /^v?(\d+)\./.exec(version)?.[1];
  if (major === undefined) throw new Error(`kubectl does not report its kustomize version. ${TOOL_HINTS.kubectl}`);
  return Number(major);
}

// ---------------------------------------------------------------------------------------------
// Kubernetes objects

interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

function render(kustomization: string): KubeObject[] {
  const { stdout } = run('kubectl', ['kustomize', kustomization]);
  return parseAllDocuments(stdout).map((document) => {
    if (document.errors.length > 0) throw new Error(`${kustomization} rendered invalid YAML: ${document.errors[0].message}`);
    return document.toJS() as KubeObject;
  });
}

interface SchemaError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}
type SchemaValidator = ((data: unknown) => boolean) & { errors?: SchemaError[] | null };

/** The group part of the kubernetes-models schema names (IoK8sApi<Group><Version><Kind>). */
const SCHEMA_GROUPS: Record<string, string> = {
  '': 'Core',
  apps: 'Apps',
  policy: 'Policy',
  autoscaling: 'Autoscaling',
  'networking.k8s.io': 'Networking',
  'rbac.authorization.k8s.io': 'Rbac',
  batch: 'Batch',
};

const loadModule = createRequire(__filename);
const schemasDirectory = join(dirname(loadModule.resolve('kubernetes-models')), '_schemas');

function schemaValidator(object: KubeObject): SchemaValidator {
  const [group, version] = object.apiVersion.includes('/') ? object.apiVersion.split('/') : ['', object.apiVersion];
  const groupName = SCHEMA_GROUPS[group];
  if (groupName === undefined) throw new Error(`no schema group known for apiVersion ${object.apiVersion}: add it to SCHEMA_GROUPS`);
  const file = join(schemasDirectory, `IoK8sApi${groupName}${version[0].toUpperCase()}${version.slice(1)}${object.kind}.js`);
  try {
    statSync(file);
  } catch {
    throw new Error(`kubernetes-models has no schema for ${object.apiVersion} ${object.kind} (${relative(ROOT, file)})`);
  }
  return (loadModule(file) as { validate: SchemaValidator }).validate;
}

/**
 * Validates against the schema and lists the fields it does not know. The compiled validators
 * read each property their schema declares; a proxy records those reads, so a field never read
 * (on an object whose keys the validator did not enumerate, as it does for maps) is unknown.
 */
function validateStrictly(object: KubeObject): string[] {
  const validate = schemaValidator(object);
  const read = new Set<string>();
  const enumerated = new Set<string>();
  const track = (value: unknown, path: string): unknown => {
    if (value === null || typeof value !== 'object') return value;
    const copy: unknown = Array.isArray(value)
      ? value.map((item, index) => track(item, `${path}/${index}`))
      : Object.fromEntries(Object.entries(value).map(([key, item]) => [key, track(item, `${path}/${key}`)]));
    return new Proxy(copy as object, {
      get(target, key, receiver) {
        if (typeof key === 'string') read.add(`${path}/${key}`);
        return Reflect.get(target, key, receiver) as unknown;
      },
      has(target, key) {
        if (typeof key === 'string') read.add(`${path}/${key}`);
        return Reflect.has(target, key);
      },
      ownKeys(target) {
        enumerated.add(path);
        return Reflect.ownKeys(target);
      },
    });
  };
  const problems: string[] = [];
  if (!validate(track(object, ''))) {
    // The compiled validators carry no messages: the keyword and its parameters say what failed.
    for (const error of validate.errors ?? []) {
      problems.push(`${error.instancePath || '/'} ${error.message ?? `fails ${error.keyword} ${JSON.stringify(error.params)}`}`);
    }
  }
  const unknownFields = (value: unknown, path: string): void => {
    if (value === null || typeof value !== 'object') return;
    for (const [key, item] of Object.entries(value)) {
      const itemPath = `${path}/${key}`;
      if (!Array.isArray(value) && !enumerated.has(path) && !read.has(itemPath)) problems.push(`${itemPath} is not a field of the schema`);
      else unknownFields(item, itemPath);
    }
  };
  unknownFields(object, '');
  return problems.map((problem) => `${object.kind} ${object.metadata.name}: ${problem}`);
}

const deployments = (objects: KubeObject[]) => objects.filter((o) => o.kind === 'Deployment') as unknown as (IDeployment & KubeObject)[];
const ofKind = (objects: KubeObject[], kind: string) => objects.filter((o) => o.kind === kind);

function appContainer(deployment: IDeployment): IContainer {
  const containers = deployment.spec?.template.spec?.containers ?? [];
  expect(containers).toHaveLength(1);
  return containers[0];
}

/** Which variable sets the port each app serves /metrics, /health and /ready on. */
const PORT_VARIABLES: Record<string, string> = {
  gateway: 'PORT',
  'token-service': 'METRICS_PORT',
  scheduler: 'SCHEDULER_METRICS_PORT',
};

// ---------------------------------------------------------------------------------------------
// What the code says

function sourceFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' || entry.name === 'dist' ? [] : sourceFiles(path);
    return entry.name.endsWith('.ts') && !/\.(int-|e2e-)?spec\.ts$/.test(entry.name) ? [path] : [];
  });
}

const SOURCES = [...sourceFiles(join(ROOT, 'apps')), ...sourceFiles(join(ROOT, 'libs'))].map((file) => ({
  file,
  text: readFileSync(file, 'utf8'),
}));

/** Environment variables the apps read: EnvReader calls with a literal name, and the ops-port prefixes. */
function variablesTheAppsRead(): Set<string> {
  const names = new Set<string>();
  for (const { text } of SOURCES) {
    for (const match of text.matchAll(/\b(?:read|reader)\s*\.(?:string|integer|url|optional)\(\s*'([A-Z][A-Z0-9_]*)'/g))
      names.add(match[1]);
    for (const match of text.matchAll(/readOpsEndpoint\(\s*read\s*,\s*'([A-Z_]*)'/g)) {
      names.add(`${match[1]}METRICS_PORT`);
      names.add(`${match[1]}METRICS_HOST`);
    }
  }
  return names;
}

/** Every Prometheus series name the code registers (histograms as _bucket, _sum, _count). */
async function registeredSeriesNames(): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  for (const { file, text } of SOURCES) {
    for (const match of text.matchAll(/new (Counter|Gauge|Histogram|Summary)\b[^(]*\(\{\s*name:\s*'([a-zA-Z_:][a-zA-Z0-9_:]*)'/g)) {
      const [, type, name] = match;
      const where = relative(ROOT, file);
      if (type === 'Histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.set(name + suffix, where);
      else if (type === 'Summary') for (const suffix of ['', '_sum', '_count']) names.set(name + suffix, where);
      else names.set(name, where);
    }
  }
  // Node's process metrics, registered by every app's registry (collectDefaultMetrics); prom-client
  // types `type` as a numeric enum, but at run time it is the Prometheus type name.
  const defaults = await createMetricsRegistry().getMetricsAsJSON();
  for (const metric of defaults) {
    const suffixes = String(metric.type) === 'histogram' ? ['_bucket', '_sum', '_count'] : [''];
    for (const suffix of suffixes) names.set(metric.name + suffix, 'prom-client default metrics (createMetricsRegistry)');
  }
  return names;
}

// ---------------------------------------------------------------------------------------------
// PromQL

interface Query {
  where: string;
  expr: string;
}

/** Grafana's variables, replaced by values PromQL accepts, before parsing or checking. */
function withoutGrafanaVariables(expr: string): string {
  return expr
    .replace(/\$__rate_interval|\$__interval|\$__range/g, '5m')
    .replace(/\$\{?(\w+)\}?/g, (_, name: string) => `grafana_variable_${name}`);
}

/** Metric names selected by a query, from Prometheus' PromQL grammar; throws on a syntax error. */
function metricNames(query: Query): string[] {
  const expr = withoutGrafanaVariables(query.expr);
  const tree = promqlParser.parse(expr);
  const names: string[] = [];
  const cursor = tree.cursor();
  do {
    if (cursor.type.isError) throw new Error(`${query.where}: PromQL syntax error at ${cursor.from} in: ${query.expr}`);
    if (cursor.name === 'VectorSelector') {
      const selector = cursor.node;
      const identifier = selector.getChild('Identifier');
      if (identifier) names.push(expr.slice(identifier.from, identifier.to));
      const byName = /__name__\s*=\s*"([^"]+)"/.exec(expr.slice(selector.from, selector.to));
      if (byName) names.push(byName[1]);
    }
  } while (cursor.next());
  if (names.length === 0) throw new Error(`${query.where}: no metric selected by ${query.expr}`);
  return names;
}

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
}

function alertQueries(): Query[] {
  const rules = parseYaml(readFileSync(join(DEPLOY, 'prometheus/alerts.yml'), 'utf8')) as { groups: { name: string; rules: Rule[] }[] };
  return rules.groups.flatMap((group) =>
    group.rules.map((rule) => ({ where: `alerts.yml ${rule.alert ?? rule.record}`, expr: rule.expr })),
  );
}

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: { refId: string; expr: string }[];
  panels?: Panel[];
}

interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: string | { query: string } }[] };
}

const dashboard = JSON.parse(readFileSync(join(DEPLOY, 'grafana/waitpoints.json'), 'utf8')) as Dashboard;
const allPanels = dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);

function dashboardQueries(): Query[] {
  const fromPanels = allPanels.flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({ where: `dashboard panel "${panel.title}" ${target.refId}`, expr: target.expr })),
  );
  const fromVariables = dashboard.templating.list
    .filter((variable) => variable.type === 'query')
    .map((variable) => {
      const query = typeof variable.query === 'string' ? variable.query : variable.query.query;
      const inner = /^label_values\((.+),\s*\w+\)$/.exec(query)?.[1];
      if (inner === undefined)
        throw new Error(`dashboard variable ${variable.name}: expected label_values(<selector>, <label>), got ${query}`);
      return { where: `dashboard variable ${variable.name}`, expr: inner };
    });
  return [...fromPanels, ...fromVariables];
}

function withTemporaryDirectory<T>(work: (directory: string) => T): T {
  const directory = mkdtempSync(join(tmpdir(), 'waitpoints-deploy-'));
  try {
    return work(directory);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------

describe('deploy/kubernetes (kubectl kustomize + Kubernetes JSON schemas)', () => {
  const rendered = new Map<string, KubeObject[]>();
  const renderedAs = (kustomization: string): KubeObject[] => {
    const objects = rendered.get(kustomization);
    if (!objects) throw new Error(`${kustomization} was not rendered`);
    return objects;
  };

  beforeAll(() => {
    const major = kustomizeMajorVersion();
    if (major < 4) throw new Error(`kubectl's kustomize is v${major}; deploy/kubernetes needs v4 or newer. ${TOOL_HINTS.kubectl}`);
    for (const kustomization of KUSTOMIZATIONS) rendered.set(kustomization, render(kustomization));
  });

  it.each(KUSTOMIZATIONS)('%s renders objects that match their Kubernetes schema, with no unknown field', (kustomization) => {
    const objects = renderedAs(kustomization);
    expect(objects.length).toBeGreaterThan(0);
    expect(objects.flatMap(validateStrictly)).toEqual([]);
  });

  it('the strict schema check finds a misspelt field and a wrong type', () => {
    const [deployment] = deployments(renderedAs('deploy/kubernetes/base'));
    const broken = JSON.parse(JSON.stringify(deployment)) as KubeObject & IDeployment;
    const container = appContainer(broken) as IContainer & Record<string, unknown>;
    container.readinessprobe = container.readinessProbe;
    (container.ports ?? [])[0].containerPort = 'http' as unknown as number;
    const problems = validateStrictly(broken);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('/spec/template/spec/containers/0/readinessprobe is not a field of the schema'),
        expect.stringContaining('/spec/template/spec/containers/0/ports/0/containerPort fails type {"type":"integer"}'),
      ]),
    );
  });

  it.each(KUSTOMIZATIONS)('%s: each app probes /ready and /health and is scraped on the port it listens on', (kustomization) => {
    const apps = deployments(renderedAs(kustomization));
    expect(apps.map((d) => d.metadata.labels?.['app.kubernetes.io/component']).sort()).toEqual(['gateway', 'scheduler', 'token-service']);
    for (const deployment of apps) {
      const component = deployment.metadata.labels?.['app.kubernetes.io/component'] ?? '';
      const container = appContainer(deployment);
      const portVariable = PORT_VARIABLES[component];
      const portValue = container.env?.find((e) => e.name === portVariable)?.value;
      expect({ component, portVariable, portValue }).toEqual({ component, portVariable, portValue: expect.stringMatching(/^\d+$/) });
      const listensOn = Number(portValue);
      const portNamed = (name: string | number) => container.ports?.find((p) => p.name === name || p.containerPort === name)?.containerPort;
      const probed = (probe: { httpGet?: IHTTPGetAction } | undefined) => ({
        path: probe?.httpGet?.path,
        port: portNamed(probe?.httpGet?.port ?? ''),
      });

      expect({ component, readiness: probed(container.readinessProbe) }).toEqual({
        component,
        readiness: { path: '/ready', port: listensOn },
      });
      expect({ component, liveness: probed(container.livenessProbe) }).toEqual({
        component,
        liveness: { path: '/health', port: listensOn },
      });
      expect({ component, startup: probed(container.startupProbe) }).toEqual({ component, startup: { path: '/health', port: listensOn } });

      const annotations = deployment.spec?.template.metadata?.annotations ?? {};
      expect({ component, annotations }).toEqual({
        component,
        annotations: expect.objectContaining({
          'prometheus.io/scrape': 'true',
          'prometheus.io/port': String(listensOn),
          'prometheus.io/path': '/metrics',
        }),
      });
      // The scrape configuration and the alerts select on these pod labels.
      expect(deployment.spec?.template.metadata?.labels).toEqual(
        expect.objectContaining({ 'app.kubernetes.io/part-of': 'waitpoints', 'app.kubernetes.io/component': component }),
      );

      for (const kind of ['requests', 'limits'] as const) {
        expect({ component, kind, resources: container.resources?.[kind] }).toEqual({
          component,
          kind,
          resources: { cpu: expect.any(String), memory: expect.any(String) },
        });
      }
      expect(container.command).toEqual(['node', `dist/apps/${component}/src/main.js`]);
      // FOO_PORT variables of Services would override PORT / SCHEDULER_METRICS_PORT.
      expect(deployment.spec?.template.spec?.enableServiceLinks).toBe(false);
    }
  });

  it.each(KUSTOMIZATIONS)('%s: every variable set is one an app reads, and every reference resolves', (kustomization) => {
    const objects = renderedAs(kustomization);
    const known = variablesTheAppsRead();
    const configMaps = new Map(ofKind(objects, 'ConfigMap').map((c) => [c.metadata.name, (c.data ?? {}) as Record<string, string>]));
    const secrets = new Set(ofKind(objects, 'Secret').map((s) => s.metadata.name));
    const unknown: string[] = [];
    const unresolved: string[] = [];
    const secretsUsed = new Set<string>();
    for (const deployment of deployments(objects)) {
      const container = appContainer(deployment);
      for (const source of container.envFrom ?? []) {
        const name = source.configMapRef?.name ?? '';
        const data = configMaps.get(name);
        if (!data) unresolved.push(`${deployment.metadata.name}: ConfigMap ${name}`);
        for (const variable of Object.keys(data ?? {})) if (!known.has(variable)) unknown.push(`${name}: ${variable}`);
      }
      for (const variable of container.env ?? []) {
        if (!known.has(variable.name) && !RUNTIME_VARIABLES.has(variable.name))
          unknown.push(`${deployment.metadata.name}: ${variable.name}`);
        const secret = variable.valueFrom?.secretKeyRef?.name;
        if (secret !== undefined) {
          secretsUsed.add(secret);
          if (!secrets.has(secret) && !(secret in EXTERNAL_SECRETS)) unresolved.push(`${deployment.metadata.name}: Secret ${secret}`);
        }
      }
    }
    for (const ingress of ofKind(objects, 'Ingress')) {
      for (const tls of (ingress.spec as { tls?: { secretName?: string }[] }).tls ?? []) {
        if (tls.secretName !== undefined && !(tls.secretName in EXTERNAL_SECRETS)) unresolved.push(`Ingress: Secret ${tls.secretName}`);
      }
    }
    expect({ unknown, unresolved }).toEqual({ unknown: [], unresolved: [] });
    // API keys and signing secrets never come from a ConfigMap.
    for (const data of configMaps.values()) expect(Object.keys(data)).not.toEqual(expect.arrayContaining(['API_KEYS']));
    expect([...secretsUsed].length).toBeGreaterThan(0);
  });

  it.each(KUSTOMIZATIONS)('%s: budgets, autoscalers and the gateway Service point at the Deployments', (kustomization) => {
    const objects = renderedAs(kustomization);
    const apps = deployments(objects);
    const podsOf = (selector: Record<string, string>) =>
      apps
        .filter((d) => Object.entries(selector).every(([k, v]) => d.spec?.template.metadata?.labels?.[k] === v))
        .map((d) => d.metadata.name);

    const budgets = ofKind(objects, 'PodDisruptionBudget').map((pdb) =>
      podsOf((pdb.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels),
    );
    expect(budgets.map((selected) => selected.length)).toEqual(apps.map(() => 1));
    expect(budgets.flat().sort()).toEqual(apps.map((d) => d.metadata.name).sort());

    const autoscaled = ofKind(objects, 'HorizontalPodAutoscaler').map((hpa) => {
      const spec = hpa.spec as { scaleTargetRef: { kind: string; name: string }; minReplicas: number; maxReplicas: number };
      expect(spec.scaleTargetRef.kind).toBe('Deployment');
      expect(apps.map((d) => d.metadata.name)).toContain(spec.scaleTargetRef.name);
      expect(spec.minReplicas).toBeGreaterThanOrEqual(2);
      // A count in the Deployment would reset the autoscaler's on every kubectl apply.
      expect({
        autoscaled: spec.scaleTargetRef.name,
        replicas: apps.find((d) => d.metadata.name === spec.scaleTargetRef.name)?.spec?.replicas,
      }).toEqual({
        autoscaled: spec.scaleTargetRef.name,
        replicas: undefined,
      });
      return spec.scaleTargetRef.name;
    });
    expect(autoscaled.sort()).toEqual(['waitpoints-gateway', 'waitpoints-token-service']);

    const [service] = ofKind(objects, 'Service');
    const serviceSpec = service.spec as { selector: Record<string, string>; ports: { targetPort: string | number }[] };
    expect(podsOf(serviceSpec.selector)).toEqual(['waitpoints-gateway']);
    const gateway = apps.find((d) => d.metadata.name === 'waitpoints-gateway');
    expect(appContainer(gateway as IDeployment).ports?.map((p) => p.name)).toContain(serviceSpec.ports[0].targetPort);
  });

  it('the production overlay: one namespace, the CloudNativePG database URL, an Ingress to the public paths only', () => {
    const objects = renderedAs('deploy/kubernetes/overlays/production');
    expect(new Set(objects.map((o) => o.metadata.namespace))).toEqual(new Set(['waitpoints']));
    const cluster = parseYaml(readFileSync(join(DEPLOY, 'postgres/cluster.yaml'), 'utf8')) as { metadata: { name: string } };
    for (const deployment of deployments(objects)) {
      const url = appContainer(deployment).env?.find((e) => e.name === 'DATABASE_URL');
      if (deployment.metadata.name === 'waitpoints-gateway') expect(url).toBeUndefined();
      else expect(url?.valueFrom?.secretKeyRef).toEqual({ name: `${cluster.metadata.name}-app`, key: 'uri' });
    }
    const [ingress] = ofKind(objects, 'Ingress');
    const paths = (ingress.spec as { rules: { http: { paths: { path: string }[] } }[] }).rules.flatMap((r) =>
      r.http.paths.map((p) => p.path),
    );
    expect(paths.sort()).toEqual(['/api/', '/dashboard']);
  });
});

describe('deploy/postgres and deploy/nats', () => {
  const base = () => {
    const objects = render('deploy/kubernetes/base');
    const config = ofKind(objects, 'ConfigMap')[0].data as Record<string, string>;
    const maxReplicas = (name: string) =>
      (ofKind(objects, 'HorizontalPodAutoscaler').find((h) => h.metadata.name === name)?.spec as { maxReplicas: number }).maxReplicas;
    const replicas = (name: string) => deployments(objects).find((d) => d.metadata.name === name)?.spec?.replicas ?? 0;
    return { config, maxReplicas, replicas };
  };

  it('the CloudNativePG Cluster has three instances and room for every pool at the autoscalers maximum', () => {
    const cluster = parseYaml(readFileSync(join(DEPLOY, 'postgres/cluster.yaml'), 'utf8')) as {
      apiVersion: string;
      kind: string;
      spec: {
        instances: number;
        bootstrap: { initdb: { database: string; owner: string } };
        postgresql: { parameters: Record<string, string> };
      };
    };
    expect([cluster.apiVersion, cluster.kind]).toEqual(['postgresql.cnpg.io/v1', 'Cluster']);
    expect(cluster.spec.instances).toBeGreaterThanOrEqual(3);
    expect(cluster.spec.bootstrap.initdb.database).toBe('waitpoints');

    const { config, maxReplicas, replicas } = base();
    // Rolling updates add one pod (maxSurge 1) of each while the old ones still hold their pools.
    const tokenServices = maxReplicas('waitpoints-token-service') + 1;
    const schedulers = replicas('waitpoints-scheduler') + 1;
    const needed =
      tokenServices * (Number(config.DATABASE_POOL_SIZE) + 1 /* outbox relay */ + 2) /* migrations */ +
      schedulers * Number(config.SCHEDULER_DATABASE_POOL_SIZE) +
      10; /* superuser_reserved_connections and the operator's own */
    expect(Number(cluster.spec.postgresql.parameters.max_connections)).toBeGreaterThanOrEqual(needed);
  });

  it('the NATS values: three JetStream nodes, the exporter, scraped on its port, and JETSTREAM_REPLICAS to match', () => {
    const values = parseYaml(readFileSync(join(DEPLOY, 'nats/values.yaml'), 'utf8')) as {
      config: {
        cluster: { enabled: boolean; replicas: number };
        jetstream: { enabled: boolean; fileStore: { pvc: { enabled: boolean } } };
      };
      promExporter: { enabled: boolean; port: number };
      podTemplate: { merge: { metadata: { annotations: Record<string, string> } } };
    };
    expect(values.config.cluster).toEqual(expect.objectContaining({ enabled: true, replicas: 3 }));
    expect(values.config.jetstream.enabled).toBe(true);
    expect(values.config.jetstream.fileStore.pvc.enabled).toBe(true);
    expect(values.promExporter.enabled).toBe(true);
    expect(values.podTemplate.merge.metadata.annotations).toEqual(
      expect.objectContaining({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(values.promExporter.port) }),
    );
    expect(Number(base().config.JETSTREAM_REPLICAS)).toBe(values.config.cluster.replicas);
  });
});

describe('deploy/prometheus (promtool)', () => {
  it('alerts.yml passes promtool check rules', () => {
    const { stdout } = run('promtool', ['check', 'rules', 'deploy/prometheus/alerts.yml']);
    expect(stdout).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('alerts.yml passes its unit tests (promtool test rules alerts.test.yml)', () => {
    const { stdout } = run('promtool', ['test', 'rules', 'alerts.test.yml'], join(DEPLOY, 'prometheus'));
    expect(stdout).toContain('SUCCESS');
  });

  it('prometheus.yml passes promtool check config', () => {
    // Debian's promtool is built without Kubernetes service discovery: the pod discovery is
    // swapped for an empty static list, so the relabelling and the rule file are still checked.
    const original = readFileSync(join(DEPLOY, 'prometheus/prometheus.yml'), 'utf8');
    expect(original).toContain('kubernetes_sd_configs:\n      - role: pod\n');
    withTemporaryDirectory((directory) => {
      const config = original
        .replace('kubernetes_sd_configs:\n      - role: pod\n', 'static_configs:\n      - targets: []\n')
        .replace('  - alerts.yml', `  - ${join(DEPLOY, 'prometheus/alerts.yml')}`);
      writeFileSync(join(directory, 'prometheus.yml'), config);
      const { stdout } = run('promtool', ['check', 'config', join(directory, 'prometheus.yml')]);
      expect(stdout).toContain('is valid prometheus config file syntax');
    });
  });
});

describe('deploy/grafana/waitpoints.json', () => {
  it('is a dashboard whose panels have unique ids, fit the grid and use the data source variable', () => {
    expect(dashboard.uid).toBe('waitpoints');
    const ids = allPanels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of allPanels) {
      expect({ panel: panel.title, fits: panel.gridPos.x >= 0 && panel.gridPos.x + panel.gridPos.w <= 24 }).toEqual({
        panel: panel.title,
        fits: true,
      });
      if (panel.type !== 'row') {
        expect({ panel: panel.title, datasource: panel.datasource }).toEqual({
          panel: panel.title,
          datasource: { type: 'prometheus', uid: '${datasource}' },
        });
        expect({ panel: panel.title, targets: panel.targets?.length }).toEqual({ panel: panel.title, targets: expect.any(Number) });
      }
    }
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(expect.arrayContaining(['datasource', 'namespace']));
  });

  it('every query is valid PromQL (Prometheus grammar, then promtool as recording rules)', () => {
    const queries = dashboardQueries();
    for (const query of queries) metricNames(query);
    withTemporaryDirectory((directory) => {
      const rules = {
        groups: [
          {
            name: 'dashboard',
            rules: queries.map((query, index) => ({ record: `dashboard:query_${index}`, expr: withoutGrafanaVariables(query.expr) })),
          },
        ],
      };
      writeFileSync(join(directory, 'dashboard-queries.yml'), JSON.stringify(rules, null, 2));
      const { stdout } = run('promtool', ['check', 'rules', join(directory, 'dashboard-queries.yml')]);
      expect(stdout).toContain(`SUCCESS: ${queries.length} rules found`);
    });
  });

  it('shows what an operator looks for', () => {
    const used = new Set(dashboardQueries().flatMap(metricNames));
    for (const name of [
      'waitpoints_http_request_duration_seconds_count', // throughput by route and status
      'waitpoints_http_request_duration_seconds_bucket', // latency percentiles
      'waitpoints_outbox_oldest_unpublished_age_seconds', // outbox lag
      'nats_consumer_num_pending', // JetStream consumer lag
      'waitpoints_scheduler_timer_lateness_seconds_bucket', // timer lateness
      'waitpoints_scheduler_timers_pending', // pending timers
      'cnpg_backends_total', // the database connection pools
    ]) {
      expect(used).toContain(name);
    }
  });
});

describe('metric names in the dashboard and the alerts', () => {
  it('exist in the code, or come from a named exporter', async () => {
    const registered = await registeredSeriesNames();
    expect(registered.get('waitpoints_scheduler_timer_lateness_seconds_bucket')).toBe('apps/scheduler/src/metrics.ts');
    const queries = [...dashboardQueries(), ...alertQueries()];
    const used = new Map<string, string>();
    for (const query of queries) for (const name of metricNames(query)) used.set(name, query.where);

    const unknown = [...used]
      .filter(([name]) => !registered.has(name) && !(name in EXTERNAL_METRICS))
      .map(([name, where]) => `${name} (${where})`);
    expect(unknown).toEqual([]);
    // No stale entries: each external metric is still used, and none shadows one of ours.
    expect(Object.keys(EXTERNAL_METRICS).filter((name) => !used.has(name) || registered.has(name))).toEqual([]);
  });

  it('names are read from the PromQL syntax tree, and a broken query fails', () => {
    expect(metricNames({ where: 'test', expr: 'sum(rate(waitpoints_tokens_creatd_total[5m]))' })).toEqual([
      'waitpoints_tokens_creatd_total',
    ]);
    expect(() => metricNames({ where: 'test', expr: 'sum(rate(waitpoints_tokens_created_total[5m])' })).toThrow(/PromQL syntax error/);
  });
});
