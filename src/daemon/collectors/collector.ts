import type { MetricSample } from "../../common/types.js";

/** One source of metrics; each collector fails alone. */
export interface Collector {
  readonly type: string;
  collect(now: Date): Promise<MetricSample[]>;
}

export const unixSeconds = (d: Date) => Math.floor(d.getTime() / 1000);
