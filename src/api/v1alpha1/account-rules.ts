// Placeholder until the API branch lands (its version replaces this file).
import type { PhoneScope } from './account-types.js';

export function phoneInScope(scope: PhoneScope, phone: { serverId?: string; phoneName?: string }): boolean {
  if (scope.serverIds?.length && (phone.serverId === undefined || !scope.serverIds.includes(phone.serverId))) return false;
  if (scope.phoneNamePrefixes?.length && (phone.phoneName === undefined || !scope.phoneNamePrefixes.some((p) => phone.phoneName!.startsWith(p)))) return false;
  return true;
}

export function namespaceAdmitted(spec: { namespaceSelector?: { matchLabels?: Record<string, string>; matchExpressions?: Array<{ key: string; operator: string; values?: string[] }> }; namespaces?: string[] }, namespace: { name: string; labels: Record<string, string> }): boolean {
  if (!spec.namespaceSelector && !spec.namespaces) return true;
  if (spec.namespaces?.includes(namespace.name)) return true;
  const selector = spec.namespaceSelector;
  if (!selector) return false;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (namespace.labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(namespace.labels, e.key);
    const value = namespace.labels[e.key];
    if (e.operator === 'In' && !(has && (e.values ?? []).includes(value!))) return false;
    if (e.operator === 'NotIn' && has && (e.values ?? []).includes(value!)) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}
