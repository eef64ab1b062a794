// Grafana's own dashboard type (npm @grafana/schema), as JSON can meet it: JSON cannot name a
// TypeScript enum member, so each string enum accepts its values as literals. Everything else
// (unknown keys, wrong types, missing gridPos fields, enum values) is checked as Grafana types it.
import type { Dashboard } from '@grafana/schema';

type Loose<T> = T extends string
  ? string extends T ? string : `${T}`
  : T extends readonly (infer U)[]
    ? Loose<U>[]
    : T extends object
      ? { [K in keyof T]: Loose<T[K]> }
      : T;

export type DashboardJson = Loose<Dashboard>;
