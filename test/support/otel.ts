/** OpenTelemetry's own SDK as a test collects from it: a reader collected by hand, points by name. */
import { type DataPoint, type MetricData, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';

/** A reader collected by hand (an exporter's reader does the same on its interval). */
export class HandReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

export async function collect(reader: MetricReader): Promise<Map<string, MetricData>> {
  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).toEqual([]);
  return byName(resourceMetrics);
}

function byName(rm: ResourceMetrics): Map<string, MetricData> {
  const out = new Map<string, MetricData>();
  for (const scope of rm.scopeMetrics) for (const m of scope.metrics) out.set(m.descriptor.name, m);
  return out;
}

/** The value of the point of `name` whose attributes include `attrs`. */
export function point(metrics: Map<string, MetricData>, name: string, attrs: Record<string, string>): number | undefined {
  const m = metrics.get(name);
  const p = (m?.dataPoints as DataPoint<number>[] | undefined)?.find((d) => Object.entries(attrs).every(([k, v]) => d.attributes[k] === v));
  return p?.value;
}
