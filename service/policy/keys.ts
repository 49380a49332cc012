// What a vault key and a shared budget are, as the policy reads them (the store builds them from its rows).
import type { EndpointPattern } from '../vendors/endpoints';
import type { FieldRule } from './params';
import type { KeyPolicy } from '../vendors/types';

export interface BudgetRecord {
  id: string;
  label: string;
  dailyCapMicros: number;
  timezone: string;
  /** The budget's own approval rules, for every key drawing from it. */
  approval?: ApprovalRules | undefined;
}

/** When a call waits for a person: priced above an amount, or one of some endpoints (parsed once, when read). */
export interface ApprovalRules {
  aboveMicros?: number | undefined;
  endpoints?: EndpointPattern[] | undefined;
}

export interface KeyRecord {
  id: string;
  workspaceId: string;
  vendor: string;
  label: string;
  dailyCapMicros: number;
  allowedEndpoints: EndpointPattern[];
  policy: KeyPolicy;
  /** The policy's parameter rules with their endpoint patterns parsed. */
  paramRules: { pattern: EndpointPattern; fields: Record<string, FieldRule> }[];
  /** The policy's approval_endpoints, parsed. */
  approvalEndpoints: EndpointPattern[];
  budget: BudgetRecord | null;
  expiresAt: number | null;
  revokedAt: number | null;
  createdAt: number;
}

/** The one workspace there is for now (design §8); every row belongs to a workspace. */
export const DEFAULT_WORKSPACE = 'default';
