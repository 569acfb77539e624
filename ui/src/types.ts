// Owns: every TypeScript type of the Tauri command contract (hand-written for now; to be
// replaced by types generated from Rust into src/bindings/). Import types only from here.

export type Filter = 'all' | 'not_visited' | 'poor' | 'conflict';

export type VisitResult = 'found' | 'not_found' | 'moved' | 'died' | 'duplicate' | 'refused';
export const VISIT_RESULTS: VisitResult[] = ['found', 'not_found', 'moved', 'died', 'duplicate', 'refused'];

export type Presence = 'lives_here' | 'died' | 'moved' | 'not_found';
export const PRESENCES: Presence[] = ['lives_here', 'died', 'moved', 'not_found'];

/** Every rejected invoke carries this. */
export interface CommandError {
  code: string;
  message: string;
}

export interface SessionStatus {
  logged_in: boolean;
  user: string | null;
  role: string | null;
  server: string | null;
}

export interface LoginResult {
  user: string;
  role: string;
}

export interface HouseholdRow {
  id: string;
  head_name: string | null;
  address: string | null;
  rt: number | null;
  rw: number | null;
  status: string | null;
  /** YYYY-MM-DD */
  last_visit: string | null;
  score: number | null;
  poor: boolean;
  has_conflict: boolean;
  proposal: boolean;
  rejected: string | null;
}

export interface Identity {
  id_dtks?: string;
  idbdt?: string;
  kk?: string;
  address?: string;
  kelurahan?: string;
  kelurahan_bps?: string;
  rw?: number;
  rt?: number;
}

export interface Programmes {
  pkh?: boolean;
  bpnt?: boolean;
  pbi_jk?: boolean;
  kip?: boolean;
}

export interface Registry {
  desil?: number | null;
  programmes?: Programmes;
}

export interface Member {
  nik?: string;
  name?: string;
  sex?: 'L' | 'P';
  birth_date?: string;
  relation?: string;
  presence?: string;
}

export interface Documents {
  kk?: boolean;
  ktp?: boolean;
}

export interface IncomeSourceAnswer {
  occupation: string;
  land_m2: number;
  income_rp: number;
}

/** number → number; option → option text; yes_no → boolean (true = yes); income_source → object. */
export type AnswerValue = number | string | boolean | IncomeSourceAnswer;
export type Answers = Record<string, AnswerValue>;

export interface Score {
  met: string[];
  score: number;
  poor: boolean;
  unanswered: string[];
}

export interface Visit extends Score {
  date: string;
  kader: string;
  result: string;
  answers: Answers;
  notes?: string;
  documents?: Documents;
  member_changes?: Record<string, string>;
}

export interface Conflict {
  path: string;
  values: unknown[];
}

export interface HouseholdDetail {
  id: string;
  proposal: boolean;
  status: string | null;
  identity: Identity;
  registry: Registry;
  members: Record<string, Member>;
  visits: Record<string, Visit>;
  conflicts: Conflict[];
}

export type AnswerKind = 'number' | 'option' | 'yes_no' | 'income_source';

export interface Criterion {
  n: number;
  id: string;
  label_id: string;
  label_en: string;
  answer: {
    kind: AnswerKind;
    unit?: string;
    options?: string[];
    occupations?: string[];
  };
}

export interface IndicatorSet {
  id: string;
  version: string;
  poor_if_met_at_least: number;
  criteria: Criterion[];
}

export interface NewVisit {
  result: VisitResult;
  answers: Answers;
  notes?: string;
  documents?: { kk: boolean; ktp: boolean };
  member_changes?: Record<string, string>;
}

export interface Proposal {
  head_name: string;
  nik: string | null;
  kk: string | null;
  address: string;
  rw: number;
  rt: number;
}

export interface SyncStatus {
  online: boolean;
  syncing: boolean;
  /** RFC3339 */
  last_sync: string | null;
  last_error: CommandError | null;
  pending: number;
  rejected: number;
  last_bytes_up: number;
  last_bytes_down: number;
  month_bytes: number;
}
