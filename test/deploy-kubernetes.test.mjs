// The Kubernetes manifests (deploy/kubernetes/) validated against the Kubernetes OpenAPI schema
// (kubernetes-models: the API's schemas compiled with ajv), and held to what gw serves: the
// ConfigMap's krakend.json passes `gw check`, the probes ask its health path on its port, the
// Deployment runs that file. Scaling out with one Redis is tested in qos-redis.test.mjs (two gw
// nodes, one limit); docs/operations.md tells the story.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Service } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';
import { ROOT, runGw, writeConfig } from './helpers/gateway.mjs';

const DIR = join(ROOT, 'deploy', 'kubernetes');
const MODELS = {
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

/** Every object of every manifest file (the kustomization aside), with its file. */
function manifests() {
  const out = [];
  for (const file of readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')) {
    for (const doc of parseAllDocuments(readFileSync(join(DIR, file), 'utf8'))) {
      assert.deepEqual(doc.errors, [], file);
      out.push({ file, object: doc.toJS() });
    }
  }
  return out;
}

const find = (kind, name) =>
  manifests().find((m) => m.object.kind === kind && m.object.metadata.name === name)?.object;

test('every manifest is valid against the Kubernetes API schema', () => {
  const all = manifests();
  assert.ok(all.length >= 7);
  for (const { file, object } of all) {
    const Model = MODELS[`${object.apiVersion}/${object.kind}`];
    assert.ok(Model, `${file}: ${object.apiVersion} ${object.kind} has a schema here`);
    assert.doesNotThrow(
      () => new Model(object).validate(),
      `${file}: ${object.kind} ${object.metadata.name}`,
    );
  }
  // The validator refuses what the API refuses.
  const broken = structuredClone(find('Deployment', 'gw'));
  broken.spec.replicas = 'two';
  assert.throws(() => new Deployment(broken).validate(), /replicas must be integer/);
});

test('the kustomization lists every manifest; the HPA and the PDB target the Deployment', () => {
  const kustomization = parseAllDocuments(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8'))[0].toJS();
  const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
  assert.deepEqual([...kustomization.resources].sort(), files.sort());
  const deployment = find('Deployment', 'gw');
  const hpa = find('HorizontalPodAutoscaler', 'gw');
  assert.equal(hpa.spec.scaleTargetRef.kind, 'Deployment');
  assert.equal(hpa.spec.scaleTargetRef.name, deployment.metadata.name);
  assert.equal(hpa.spec.metrics[0].resource.name, 'cpu');
  const labels = deployment.spec.template.metadata.labels;
  for (const selector of [
    find('PodDisruptionBudget', 'gw').spec.selector.matchLabels,
    deployment.spec.selector.matchLabels,
  ])
    for (const [k, v] of Object.entries(selector)) assert.equal(labels[k], v);
  const service = find('Service', 'gw');
  for (const [k, v] of Object.entries(service.spec.selector)) assert.equal(labels[k], v);
});

test("the ConfigMap's configuration passes gw check, and the Deployment serves it where its probes look", async () => {
  const configMap = find('ConfigMap', 'gw-config');
  const text = configMap.data['krakend.json'];
  const config = JSON.parse(text);
  const checked = await runGw(['check', '-c', writeConfig(config)]);
  assert.equal(checked.code, 0, checked.stderr);

  const deployment = find('Deployment', 'gw');
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0];
  // Mounted at /etc/krakend, the file the args name.
  const mount = container.volumeMounts.find((m) => m.name === pod.volumes[0].name);
  assert.equal(pod.volumes[0].configMap.name, configMap.metadata.name);
  assert.equal(mount.mountPath, '/etc/krakend');
  const file = container.args[container.args.indexOf('-c') + 1];
  assert.equal(file, `${mount.mountPath}/krakend.json`);
  // The probes: the config's health path, on the port the config listens on.
  const port = container.ports.find((p) => p.name === 'http');
  assert.equal(port.containerPort, config.port);
  const healthPath = config.extra_config?.router?.health_path ?? '/__health';
  for (const probe of [container.readinessProbe, container.livenessProbe]) {
    assert.equal(probe.httpGet.path, healthPath);
    assert.equal(probe.httpGet.port, 'http');
  }
  // Its Redis pool is the Redis the manifests run.
  const redisService = find('Service', 'gw-redis');
  const address = config.extra_config.redis.connection_pools[0].address;
  assert.equal(address, `${redisService.metadata.name}:${redisService.spec.ports[0].port}`);
  // Non-root, as the image.
  assert.equal(pod.securityContext.runAsNonRoot, true);
});
