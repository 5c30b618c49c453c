export interface ParsedLimit { calls: number; periodSeconds: number; multiple: number; granularity: string }

const GRANULARITY: Record<string, number> = { second: 1, minute: 60, hour: 3600, day: 86400, month: 2_592_000, year: 31_536_000 };

/** MLflow's `limits.parse(f"{calls}/{renewal_period}")`: e.g. (10, "minute"), (3, "5 minutes"). */
export function parseLimit(calls: unknown, renewalPeriod: unknown): ParsedLimit | null {
  const m = /^\s*([0-9]+)\s*(\/|\s*per\s*)\s*([0-9]+)?\s*([a-z]+)\s*$/i.exec(`${calls}/${renewalPeriod}`);
  if (!m) return null;
  const g = m[4]!.toLowerCase().replace(/s$/, '');
  const unit = GRANULARITY[g];
  if (unit === undefined) return null;
  const multiple = m[3] ? Number(m[3]) : 1;
  return { calls: Number(m[1]), periodSeconds: unit * multiple, multiple, granularity: g };
}
