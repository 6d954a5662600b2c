import { isIP } from "node:net";
import { InvalidArgumentError } from "./errors.js";
import type { Labels, MetricSample, NodeRegistration } from "./types.js";

/** Every input limit in one place; the manager fills it from configuration. */
export interface ValidationLimits {
  nodeIdMaxLength: number;
  hostnameMaxLength: number;
  /** os, arch, daemon_version, agent_version. */
  textMaxLength: number;
  labelsMaxPairs: number;
  labelKeyMaxLength: number;
  labelValueMaxLength: number;
  metricTypeMaxLength: number;
  valuesPerMetricMax: number;
  valueNameMaxLength: number;
  metricsPerRequestMax: number;
  /** How far a sample may lie in the future (clock skew), seconds. */
  maxFutureSeconds: number;
  /** How far back a sample may lie (the retention window), seconds. */
  maxAgeSeconds: number;
  /** Whole request size (enforced by the transport as readMaxBytes). */
  requestMaxBytes: number;
}

export const NODE_ID_PATTERN = /^[A-Za-z0-9._:-]+$/;
/** Prometheus label names (`__` prefixes are reserved there, so they are here too). */
export const LABEL_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const METRIC_TYPE_PATTERN = /^[a-z][a-z0-9_]*$/;

/** Longest heartbeat interval a daemon may ask for (a day). */
export const MAX_HEARTBEAT_INTERVAL_SECONDS = 86_400;

const show = (s: string, max = 40) => JSON.stringify(s.length > max ? `${s.slice(0, max)}…` : s);

/** Throws InvalidArgumentError unless `nodeId` is 1–N characters of [A-Za-z0-9._:-]. */
export function validateNodeId(nodeId: string, limits: ValidationLimits, field = "node_id"): void {
  if (nodeId.length === 0 || nodeId.length > limits.nodeIdMaxLength) {
    throw new InvalidArgumentError(
      field,
      `must be 1–${limits.nodeIdMaxLength} characters, got ${nodeId.length}`,
    );
  }
  if (!NODE_ID_PATTERN.test(nodeId)) {
    const bad = [...nodeId].find((c) => !NODE_ID_PATTERN.test(c)) ?? "";
    throw new InvalidArgumentError(
      field,
      `must contain only [A-Za-z0-9._:-], got ${JSON.stringify(bad)} in ${show(nodeId)}`,
    );
  }
}

/** The first problem with a label set, or undefined. */
export function checkLabels(
  labels: Labels,
  limits: ValidationLimits,
  field = "labels",
): string | undefined {
  const keys = Object.keys(labels);
  if (keys.length > limits.labelsMaxPairs) {
    return `${field}: must have at most ${limits.labelsMaxPairs} pairs, got ${keys.length}`;
  }
  for (const key of keys) {
    if (key.length === 0 || key.length > limits.labelKeyMaxLength) {
      return `${field}: key ${show(key)} must be 1–${limits.labelKeyMaxLength} characters, got ${key.length}`;
    }
    if (!LABEL_KEY_PATTERN.test(key) || key.startsWith("__")) {
      return `${field}: key ${show(key)} must match [A-Za-z_][A-Za-z0-9_]* and not start with "__"`;
    }
    const value = labels[key] as string;
    if (value.length > limits.labelValueMaxLength) {
      return `${field}[${show(key)}]: value must be at most ${limits.labelValueMaxLength} characters, got ${value.length}`;
    }
  }
  return undefined;
}

function checkText(field: string, value: string, max: number): void {
  if (value.length > max)
    throw new InvalidArgumentError(field, `must be at most ${max} characters, got ${value.length}`);
}

/** Throws InvalidArgumentError naming the first bad field of a registration. */
export function validateRegistration(reg: NodeRegistration, limits: ValidationLimits): void {
  validateNodeId(reg.nodeId, limits);
  checkText("hostname", reg.hostname, limits.hostnameMaxLength);
  if (reg.ip !== "" && isIP(reg.ip) === 0) {
    throw new InvalidArgumentError(
      "ip",
      `must be an IPv4 or IPv6 address or empty, got ${show(reg.ip)}`,
    );
  }
  checkText("os", reg.os, limits.textMaxLength);
  checkText("arch", reg.arch, limits.textMaxLength);
  checkText("daemon_version", reg.daemonVersion, limits.textMaxLength);
  checkText("agent_version", reg.agentVersion, limits.textMaxLength);
  const interval = reg.heartbeatIntervalSeconds ?? 0;
  if (!Number.isInteger(interval) || interval < 0 || interval > MAX_HEARTBEAT_INTERVAL_SECONDS) {
    throw new InvalidArgumentError(
      "heartbeat_interval_seconds",
      `must be 0 (not said) to ${MAX_HEARTBEAT_INTERVAL_SECONDS}, got ${interval}`,
    );
  }
  const problem = checkLabels(reg.labels, limits);
  if (problem) {
    const cut = problem.indexOf(": ");
    throw new InvalidArgumentError(problem.slice(0, cut), problem.slice(cut + 2));
  }
}

/** Throws InvalidArgumentError for a malformed heartbeat. */
export function validateHeartbeat(
  nodeId: string,
  timestamp: number,
  limits: ValidationLimits,
): void {
  validateNodeId(nodeId, limits);
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new InvalidArgumentError("timestamp", `must be Unix seconds ≥ 0, got ${timestamp}`);
  }
}

/** Throws InvalidArgumentError for a bad ReportMetrics envelope (node_id, batch size). */
export function validateMetricsEnvelope(
  nodeId: string,
  count: number,
  limits: ValidationLimits,
): void {
  validateNodeId(nodeId, limits);
  if (count > limits.metricsPerRequestMax) {
    throw new InvalidArgumentError(
      "metrics",
      `must hold at most ${limits.metricsPerRequestMax} entries, got ${count}`,
    );
  }
}

/** The first problem with one metric sample (field path included), or undefined. */
export function checkMetricSample(
  s: MetricSample,
  index: number,
  limits: ValidationLimits,
  nowSeconds: number,
): string | undefined {
  const at = `metrics[${index}]`;
  if (s.type.length === 0 || s.type.length > limits.metricTypeMaxLength) {
    return `${at}.type: must be 1–${limits.metricTypeMaxLength} characters, got ${s.type.length}`;
  }
  if (!METRIC_TYPE_PATTERN.test(s.type)) {
    return `${at}.type: must match [a-z][a-z0-9_]*, got ${show(s.type)}`;
  }
  const oldest = nowSeconds - limits.maxAgeSeconds;
  const newest = nowSeconds + limits.maxFutureSeconds;
  if (!Number.isSafeInteger(s.timestamp) || s.timestamp < oldest) {
    return `${at}.timestamp: must be within the retention window (≥ ${oldest}, ${limits.maxAgeSeconds}s ago), got ${s.timestamp}`;
  }
  if (s.timestamp > newest) {
    return `${at}.timestamp: must be at most ${limits.maxFutureSeconds}s in the future (≤ ${newest}), got ${s.timestamp}`;
  }
  const names = Object.keys(s.values);
  if (names.length === 0) return `${at}.values: must hold at least 1 value, got 0`;
  if (names.length > limits.valuesPerMetricMax) {
    return `${at}.values: must hold at most ${limits.valuesPerMetricMax} values, got ${names.length}`;
  }
  for (const name of names) {
    if (name.length === 0 || name.length > limits.valueNameMaxLength) {
      return `${at}.values: name ${show(name)} must be 1–${limits.valueNameMaxLength} characters, got ${name.length}`;
    }
    const v = s.values[name] as number;
    if (!Number.isFinite(v)) return `${at}.values[${show(name)}]: must be finite, got ${v}`;
  }
  return checkLabels(s.labels, limits, `${at}.labels`);
}

export interface SampleTriage {
  valid: MetricSample[];
  rejected: number;
  /** The first few rejection reasons, for the response message. */
  reasons: string[];
}

/** Splits samples into valid and rejected ones (partial success), keeping the first reasons. */
export function triageSamples(
  samples: readonly MetricSample[],
  limits: ValidationLimits,
  nowSeconds: number,
  maxReasons = 3,
): SampleTriage {
  const out: SampleTriage = { valid: [], rejected: 0, reasons: [] };
  samples.forEach((s, i) => {
    const problem = checkMetricSample(s, i, limits, nowSeconds);
    if (problem === undefined) out.valid.push(s);
    else {
      out.rejected++;
      if (out.reasons.length < maxReasons) out.reasons.push(problem);
    }
  });
  return out;
}
