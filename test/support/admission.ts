/**
 * What the API server says when it refuses an object at admission, for the CRD tests
 * (test/integration/crd.test.ts, crd-accounts.test.ts) and the chaos suite.
 */
import { expect } from 'chai';

export interface StatusBody {
  code?: number;
  message?: string;
  details?: { causes?: Array<{ field?: string; message?: string; reason?: string }> };
}

/** The API server's refusal of what `create` sends, or undefined when it was accepted. */
export async function refusal(
  create: () => Promise<unknown>,
): Promise<{ code: number; status: StatusBody } | undefined> {
  try {
    await create();
    return undefined;
  } catch (error) {
    const { code, body: raw } = error as { code?: number; body?: unknown };
    if (typeof code !== 'number') throw error;
    const status = (typeof raw === 'string' ? JSON.parse(raw) : raw) as StatusBody;
    return { code, status };
  }
}

/** Asserts a 422 whose message names `field` as "<field>: ..." and one of whose causes carries it. */
export function expectRefusedNaming(result: { code: number; status: StatusBody } | undefined, field: string): void {
  expect(result, 'the API server accepted it').to.not.equal(undefined);
  expect(result!.code).to.equal(422);
  const message = result!.status.message ?? '';
  const fields = (result!.status.details?.causes ?? []).map((cause) => cause.field);
  expect(message, message).to.contain(`${field}:`);
  expect(fields, message).to.include(field);
}
