import { expect, test } from "vitest";
import { parse } from "yaml";
import { alertRuleGroups } from "../../monitoring/alerts.js";
import { dashboards } from "../../monitoring/dashboards.js";
import { exporterPgpassParameter, renderExporterPgpass } from "../../monitoring/exporter-units.js";
import { cloudScrapeTargets, scrapeJobs, servicesPodMonitorSpec } from "../../monitoring/scrape.js";
import { MONITORING_ROLE } from "../../platform/roles.js";
import { STATS_USER } from "../../pgbouncer/layout.js";
import { SCRAPE_CONFIGS_KEY } from "../../components/monitoring.js";
import { checkNoPlaintextSecrets, named, runProgram, T } from "./program-checks.js";
import { userData } from "./program-files.js";
import { isSecretInput, unwrap, valueOf } from "./pulumi-mocks.js";

// GIVEN the prod stack WHEN the program runs under mocks THEN the monitoring resources are …
const { mocked, program, plan } = await runProgram("prod");
const m = plan.config.monitoring;
const K = {
  secret: "kubernetes:core/v1:Secret",
  configMap: "kubernetes:core/v1:ConfigMap",
  rule: "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
  podMonitor: "kubernetes:monitoring.coreos.com/v1:PodMonitor",
} as const;
type Metadata = { name: string; namespace: string; labels: Record<string, string> };
const meta = (r: { inputs: Record<string, unknown> }) => r.inputs.metadata as Metadata;
const ours = (type: string) =>
  mocked.of(type).filter((r) => meta(r).labels?.["app.kubernetes.io/part-of"] === "pg-pooling");

test("every monitoring resource sits in the monitoring namespace with the operator's selector labels", () => {
  const all = [K.secret, K.configMap, K.rule, K.podMonitor].flatMap(ours);
  expect(all.length).toBe(3 + dashboards(plan).length);
  for (const r of all) {
    expect(meta(r).namespace, r.name).toBe(m.namespace);
    expect(meta(r).labels, r.name).toMatchObject(m.selectorLabels);
  }
});

test("the scrape configs Secret holds the plan's jobs for the hosts' private addresses", () => {
  const [secret] = ours(K.secret);
  const data = unwrap(secret!.inputs.stringData) as Record<string, string>;
  const ips = plan.hosts.map(
    (h) => named(mocked, T.ec2, `pooling-pgbouncer-${h.name}`).state.privateIp as string,
  );
  const expected = scrapeJobs(plan, cloudScrapeTargets(plan, ips));
  expect(parse(data[SCRAPE_CONFIGS_KEY]!)).toEqual(JSON.parse(JSON.stringify(expected)));
});

test("the PrometheusRule carries exactly the plan's alert rule groups", () => {
  const rules = ours(K.rule);
  expect(rules).toHaveLength(1);
  const spec = rules[0]!.inputs.spec as { groups: unknown };
  expect(spec.groups).toEqual(JSON.parse(JSON.stringify(alertRuleGroups(plan))));
});

test("a PodMonitor finds the services' pods", () => {
  const [podMonitor] = ours(K.podMonitor);
  expect(podMonitor!.inputs.spec).toEqual(JSON.parse(JSON.stringify(servicesPodMonitorSpec(plan))));
});

test("one ConfigMap per dashboard, labelled for Grafana's sidecar, each a dashboard JSON", () => {
  const maps = ours(K.configMap);
  const expected = dashboards(plan);
  expect(maps).toHaveLength(expected.length);
  for (const map of maps) {
    expect(meta(map).labels[m.dashboardLabel]).toBe("1");
    const files = Object.values(map.inputs.data as Record<string, string>);
    expect(files).toHaveLength(1);
    const json = JSON.parse(files[0]!) as { uid: string; title: string };
    expect(expected.map((d) => d.uid)).toContain(json.uid);
  }
});

test("the exporters' pgpass is a SecureString of the generated passwords; hosts boot with the units", () => {
  const param = mocked
    .of(T.ssmParameter)
    .find((p) => p.inputs.name === exporterPgpassParameter("prod"))!;
  expect(param.inputs.type).toBe("SecureString");
  expect(isSecretInput(param.inputs.value)).toBe(true);
  expect(unwrap(param.inputs.value)).toBe(
    renderExporterPgpass({
      stats: mocked.passwords.get(`pooling-credentials-${STATS_USER}-password`)!,
      monitoring: mocked.passwords.get(`pooling-credentials-${MONITORING_ROLE}-password`)!,
    }),
  );
  plan.hosts.forEach((h, i) => {
    const { files } = userData(named(mocked, T.ec2, `pooling-pgbouncer-${h.name}`));
    expect(files.has("/etc/systemd/system/pg-pooling-pgbouncer-exporter.service"), h.name).toBe(
      true,
    );
    const node = plan.budget[i]!.node;
    expect(files.has(`/etc/systemd/system/pg-pooling-postgres-exporter-${node}.service`)).toBe(
      true,
    );
  });
});

test("no password in the clear, in any resource or in the monitoring outputs", async () => {
  checkNoPlaintextSecrets(mocked);
  const outputs = JSON.stringify({
    secret: await valueOf(program.monitoringResources.scrapeConfigsSecret.name),
    rule: await valueOf(program.monitoringResources.prometheusRule),
  });
  for (const pw of mocked.passwords.values()) expect(outputs).not.toContain(pw);
  expect(program.monitoringResources.namespace).toBe(m.namespace);
});
