import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { packageRoot } from "../../src/common/package-root.js";
import { loadDaemonConfig } from "../../src/daemon/config.js";

/** Shapes of the Kubernetes objects we check; only the fields we look at. */
interface Container {
  name: string;
  image: string;
  args?: string[];
  command?: string[];
  ports?: { name: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  readinessProbe?: { httpGet?: { path: string; port: string } };
  livenessProbe?: { httpGet?: { path: string; port: string } };
  resources?: { requests?: Record<string, string> };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  securityContext?: { runAsUser?: number; runAsNonRoot?: boolean };
}
interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: { name: string; hostPath?: { path: string } }[];
  hostNetwork?: boolean;
  hostPID?: boolean;
  securityContext?: { runAsUser?: number; runAsGroup?: number; runAsNonRoot?: boolean };
}
interface K8sObject {
  kind: string;
  metadata: { name: string };
  spec?: {
    replicas?: number;
    ports?: { name: string; port: number }[];
    minAvailable?: number;
    template?: { spec: PodSpec };
  };
  stringData?: Record<string, string>;
  data?: Record<string, string>;
}

const root = packageRoot();
const read = (p: string) => readFileSync(join(root, p), "utf8");
const docs = (p: string) =>
  parseAllDocuments(read(p)).map((d) => {
    if (d.errors.length) throw new Error(`${p}: ${d.errors[0]?.message}`);
    return d.toJSON() as K8sObject;
  });
const byKind = (objs: K8sObject[], kind: string) => {
  const found = objs.find((o) => o.kind === kind);
  if (!found) throw new Error(`no ${kind}`);
  return found;
};

describe("docker-compose.yml", () => {
  const compose = parse(read("docker-compose.yml")) as {
    services: Record<
      string,
      {
        image?: string;
        build?: string;
        ports?: string[];
        environment?: Record<string, string>;
        volumes?: string[];
        healthcheck?: { test: string[] };
        depends_on?: Record<string, { condition: string }>;
      }
    >;
    volumes: Record<string, unknown>;
  };

  it("runs PostgreSQL with a volume, the manager on 9090/8080 and one daemon", () => {
    const { postgres, manager, daemon } = compose.services;
    expect(postgres?.image).toMatch(/^postgres:/);
    expect(postgres?.volumes?.some((v) => v.endsWith(":/var/lib/postgresql/data"))).toBe(true);
    expect(compose.volumes).toHaveProperty("pgdata");

    expect(manager?.build).toBe(".");
    expect(manager?.ports).toEqual(expect.arrayContaining(["9090:9090", "8080:8080"]));
    expect(manager?.environment?.DATABASE_URL).toMatch(/^postgres:\/\/.*@postgres:5432\//);
    // Listening on 0.0.0.0 needs tokens (secure by default).
    expect(manager?.environment?.FLEET_GRPC_ADDR).toBe("0.0.0.0:9090");
    expect(manager?.environment?.FLEET_API_TOKEN).toBeTruthy();
    expect(manager?.environment?.FLEET_ENROLL_TOKEN).toBeTruthy();
    expect(manager?.healthcheck?.test.join(" ")).toContain("/healthz");
    expect(manager?.depends_on?.postgres?.condition).toBe("service_healthy");

    expect(daemon?.environment?.MANAGER_ADDRESS).toBe("manager:9090");
  });

  it("keeps the daemon's work_dir on a named volume the image prepares for the node user", () => {
    const { daemon } = compose.services;
    const config = parse(read("deploy/compose/daemon.yaml")) as { daemon: { work_dir: string } };
    const workDir = config.daemon.work_dir;
    const state = daemon?.volumes?.find((v) => v.endsWith(`:${workDir}`));
    expect(state, `a volume at ${workDir}`).toBeDefined();
    // A named volume (not a bind mount) copies the image's ownership on first mount.
    const name = state?.split(":")[0] ?? "";
    expect(name).not.toMatch(/^[./~]/);
    expect(compose.volumes).toHaveProperty(name);
    const dockerfile = read("Dockerfile");
    expect(dockerfile).toMatch(new RegExp(`mkdir -p [^\\n]*${workDir}`));
    expect(dockerfile).toMatch(new RegExp(`chown node:node [^\\n]*${workDir}`));
  });
});

describe("Dockerfile", () => {
  const dockerfile = read("Dockerfile");
  it("is multi-stage, runs as non-root, checks /healthz and starts the manager", () => {
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n?.*\/healthz/m);
    expect(dockerfile).toMatch(/npm prune --omit=dev/);
    expect(dockerfile).toMatch(/ENTRYPOINT \["node", "dist\/src\/manager\/main.js"\]/);
    expect(dockerfile).toMatch(/EXPOSE 9090 8080/);
  });

  it("creates the state folders owned by the node user before dropping root", () => {
    const user = dockerfile.search(/^USER node$/m);
    for (const dir of ["/var/lib/fleet", "/var/lib/fleet-daemon"]) {
      const chown = dockerfile.search(new RegExp(`chown node:node [^\\n]*${dir}(\\s|$)`, "m"));
      expect(chown, dir).toBeGreaterThan(-1);
      expect(chown, dir).toBeLessThan(user);
    }
  });
});

describe("deploy/kubernetes", () => {
  const manager = docs("deploy/kubernetes/manager.yaml");
  const daemon = docs("deploy/kubernetes/daemon.yaml");
  const secrets = docs("deploy/kubernetes/secret.yaml");

  it("runs 2 manager replicas with readiness on /readyz and resource requests", () => {
    const deploy = byKind(manager, "Deployment");
    expect(deploy.spec?.replicas).toBe(2);
    const c = deploy.spec?.template?.spec.containers[0];
    expect(c?.readinessProbe?.httpGet).toEqual({ path: "/readyz", port: "http" });
    expect(c?.livenessProbe?.httpGet?.path).toBe("/healthz");
    expect(c?.resources?.requests).toMatchObject({
      cpu: expect.any(String),
      memory: expect.any(String),
    });
    expect(c?.ports?.map((p) => p.containerPort).sort()).toEqual([8080, 9090]);
    const env = Object.fromEntries((c?.env ?? []).map((e) => [e.name, e]));
    expect(env.FLEET_GRPC_ADDR?.value).toBe("0.0.0.0:9090");
    for (const name of ["DATABASE_URL", "FLEET_API_TOKEN", "FLEET_ENROLL_TOKEN"]) {
      expect(env[name]?.valueFrom, name).toHaveProperty("secretKeyRef");
    }
  });

  it("exposes gRPC and HTTP through a Service, with a PodDisruptionBudget", () => {
    const svc = byKind(manager, "Service");
    expect(svc.spec?.ports?.map((p) => [p.name, p.port])).toEqual([
      ["grpc", 9090],
      ["http", 8080],
    ]);
    expect(byKind(manager, "PodDisruptionBudget").spec?.minAvailable).toBe(1);
  });

  it("keeps tokens and TLS material in Secrets", () => {
    const names = secrets.filter((s) => s.kind === "Secret").map((s) => s.metadata.name);
    expect(names).toEqual(["fleet-secrets", "fleet-tls"]);
    expect(Object.keys(secrets[0]?.stringData ?? {})).toEqual([
      "database-url",
      "api-token",
      "enroll-token",
    ]);
  });

  it("runs the daemon on every node in the host network, host root read-only for disks, no host PIDs", () => {
    const ds = byKind(daemon, "DaemonSet");
    const pod = ds.spec?.template?.spec;
    const c = pod?.containers[0];
    expect(c?.command).toEqual(["node", "dist/src/daemon/main.js"]);
    // Per-interface network counters need the node's network namespace.
    expect(pod?.hostNetwork).toBe(true);
    // Nothing in the daemon reads other processes.
    expect(pod?.hostPID).toBeUndefined();
    const mounts = Object.fromEntries((c?.volumeMounts ?? []).map((m) => [m.mountPath, m]));
    // The node's root filesystem, read-only, is what the disk collector reports.
    const hostRoot = mounts["/host/root"];
    expect(hostRoot?.readOnly).toBe(true);
    expect(pod?.volumes?.find((v) => v.name === hostRoot?.name)?.hostPath?.path).toBe("/");
    const config = parse(
      (daemon.find((d) => d.kind === "ConfigMap") as { data: Record<string, string> }).data[
        "daemon.yaml"
      ] as string,
    ) as { collectors: { disk: { mount_points: string[] } } };
    expect(config.collectors.disk.mount_points).toEqual(["/host/root"]);
    const hostPaths = (pod?.volumes ?? []).map((v) => v.hostPath?.path).filter(Boolean);
    expect(hostPaths.sort()).toEqual(["/", "/var/lib/fleet-daemon"]);
    const env = c?.env?.find((e) => e.name === "NODE_NAME");
    expect(env?.valueFrom).toEqual({ fieldRef: { fieldPath: "spec.nodeName" } });
  });

  it("hands the daemon's hostPath work_dir to uid 1000 before the daemon starts", () => {
    const config = parse(byKind(daemon, "ConfigMap").data?.["daemon.yaml"] ?? "") as {
      daemon: { work_dir: string };
    };
    const workDir = config.daemon.work_dir;
    const pod = byKind(daemon, "DaemonSet").spec?.template?.spec;
    const state = pod?.containers[0]?.volumeMounts?.find((m) => m.mountPath === workDir);
    expect(state, `a mount at ${workDir}`).toBeDefined();
    expect(pod?.volumes?.find((v) => v.name === state?.name)?.hostPath?.path).toBe(workDir);
    // The daemon runs as the image's node user.
    expect(pod?.securityContext).toMatchObject({ runAsUser: 1000, runAsNonRoot: true });
    const init = pod?.initContainers?.find((i) =>
      i.volumeMounts?.some((m) => m.name === state?.name && m.mountPath === workDir),
    );
    expect(init, "an initContainer mounting the state volume").toBeDefined();
    expect(init?.securityContext?.runAsUser).toBe(0);
    expect(init?.command?.join(" ")).toContain(`chown 1000:1000 ${workDir}`);
  });
});

describe("node labels in the deploy examples", () => {
  const load = (yaml: string, env: Record<string, string> = {}) =>
    loadDaemonConfig({
      argv: ["--config", "daemon.yaml"],
      env,
      // TLS and token files named in the examples only need to be readable.
      readFile: (p) => (p === "daemon.yaml" ? yaml : "PEM"),
    });

  it("the DaemonSet passes labels through the downward API into FLEET_LABELS", () => {
    const daemon = docs("deploy/kubernetes/daemon.yaml");
    const ds = byKind(daemon, "DaemonSet");
    const env = ds.spec?.template?.spec.containers[0]?.env ?? [];
    const byName = Object.fromEntries(env.map((e) => [e.name, e]));
    expect(byName.K8S_ENV?.valueFrom).toEqual({
      fieldRef: { fieldPath: "metadata.labels['fleet.example.com/env']" },
    });
    const template = ds.spec?.template as unknown as {
      metadata: { labels: Record<string, string> };
    };
    const podEnv = template.metadata.labels["fleet.example.com/env"] as string;
    // What the kubelet does: fieldRefs resolved, then $(VAR) expanded in order.
    const resolved: Record<string, string> = {
      NODE_NAME: "node-7",
      K8S_ENV: podEnv,
      K8S_HOST_IP: "10.0.0.7",
    };
    const labels = (byName.FLEET_LABELS?.value ?? "").replace(
      /\$\((\w+)\)/g,
      (_, v: string) => resolved[v] ?? "",
    );
    const config = load(byKind(daemon, "ConfigMap").data?.["daemon.yaml"] ?? "", {
      FLEET_LABELS: labels,
    });
    expect(config.labels).toEqual({
      cluster: "prod-eu",
      env: "prod",
      k8s_node: "node-7",
      host_ip: "10.0.0.7",
    });
  });

  it("the systemd example config has a labels block and loads strictly", () => {
    const config = load(readFileSync(join(root, "deploy/systemd/daemon.yaml"), "utf8"));
    expect(config.labels).toEqual({ env: "prod", role: "web", datacenter: "fra1" });
    expect(config.warnings).toEqual([]);
    expect(config.workDir).toBe("/var/lib/fleet-daemon");
    expect(readFileSync(join(root, "deploy/systemd/fleet-daemon.service"), "utf8")).toContain(
      "StateDirectory=fleet-daemon",
    );
  });
});
