// Owns: the TypeScript types of the Tauri command contract. Types that cross IPC are
// generated from Rust into ./bindings by `cargo test` (ts-rs) and re-exported here; only
// the household document view (`get_household`, a JSON rendering of the Automerge
// document whose layout core/src/household.rs documents) is written by hand.
// Import types only from this module.

export type { CommandError } from './bindings/CommandError';
export type { ErrorCode } from './bindings/ErrorCode';
export type { Code } from './bindings/Code';
import type { ErrorCode } from './bindings/ErrorCode';
/** A failure the UI shows: the backend's (`ErrorCode`), or one a form found itself
 *  (`form`, its text already in the UI language). */
export type ShownError = { code: ErrorCode | 'form'; message: string };
export type { SessionStatus } from './bindings/SessionStatus';
export type { LockStatus } from './bindings/LockStatus';
export type { LockState } from './bindings/LockState';
export type { Gate } from './bindings/Gate';
export type { LoginResult } from './bindings/LoginResult';
export type { HouseholdRow } from './bindings/HouseholdRow';
export type { ListPage } from './bindings/ListPage';
export type { ListQuery } from './bindings/ListQuery';
export type { Outbox } from './bindings/Outbox';
export type { OutboxRow } from './bindings/OutboxRow';
export type { DraftRow } from './bindings/DraftRow';
export type { Quarantined } from './bindings/Quarantined';
export type { InboxItem } from './bindings/InboxItem';
export type { FieldChange } from './bindings/FieldChange';
export type { Score } from './bindings/Score';
export type { Conflict } from './bindings/Conflict';
export type { ConflictValue } from './bindings/ConflictValue';
export type { Documents } from './bindings/Documents';
export type { SyncStatus } from './bindings/SyncStatus';
export type { Dashboard } from './bindings/Dashboard';
export type { Case } from './bindings/Case';
export type { Category as CaseCategory } from './bindings/Category';
export type { CasesList } from './bindings/CasesList';
export type { CaseInput } from './bindings/CaseInput';
export type { CaseAdded } from './bindings/CaseAdded';
export type { Proposal as MuskelProposal } from './bindings/Proposal';
export type { Session as MuskelSession } from './bindings/Session';
export type { MuskelSessions } from './bindings/MuskelSessions';
export type { NewSession } from './bindings/NewSession';
export type { Official } from './bindings/Official';
export type { Deadlines } from './bindings/Deadlines';
export type { Outcome } from './bindings/Outcome';
export type { ProposalKind } from './bindings/ProposalKind';
export type { Figures } from './bindings/Figures';
export type { BundleExported } from './bindings/BundleExported';
export type { Imported } from './bindings/Imported';
export type { ListFilter as Filter } from './bindings/ListFilter';
export type { CriterionView as Criterion } from './bindings/CriterionView';
export type { IndicatorSetView as IndicatorSet } from './bindings/IndicatorSetView';
export type { AnswerShape } from './bindings/AnswerShape';
export type { VisitInput as NewVisit } from './bindings/VisitInput';
export type { NewMember } from './bindings/NewMember';
export type { ProposalInput as Proposal } from './bindings/ProposalInput';
export type { ConflictItem } from './bindings/ConflictItem';
export type { Choice } from './bindings/Choice';
export type { HistoryEntry } from './bindings/HistoryEntry';
export type { Note } from './bindings/Note';
export type { JsonValue } from './bindings/serde_json/JsonValue';
export type { Field } from './bindings/Field';
export type { PreviewColumn } from './bindings/PreviewColumn';
export type { ImportPreview } from './bindings/ImportPreview';
export type { Counts as ImportCounts } from './bindings/Counts';
export type { ImportReport } from './bindings/ImportReport';
/** Why a registry import stops with nothing changed (generated from core's `registry::Stop`). */
export type { Stop } from './bindings/Stop';
export type { Coverage } from './bindings/Coverage';
export type { ExportDone } from './bindings/ExportDone';
export type { Mapping } from './bindings/Mapping';
/** Payload of the `registry-progress` event while `registry_import` runs (households done of total). */
export type { ImportProgress } from './bindings/ImportProgress';
import type { Conflict } from './bindings/Conflict';
import type { ConflictItem } from './bindings/ConflictItem';
import type { Documents } from './bindings/Documents';
import type { Note } from './bindings/Note';
import type { Score } from './bindings/Score';
import type { Field } from './bindings/Field';

/** The answer for "tidak tahu / menolak menjawab", for any criterion (core's `UNKNOWN`). */
export const UNKNOWN_ANSWER = 'tidak_tahu';

export type VisitResult = 'found' | 'not_found' | 'moved' | 'died' | 'duplicate' | 'refused';
export const VISIT_RESULTS: VisitResult[] = ['found', 'not_found', 'moved', 'died', 'duplicate', 'refused'];

export type Presence = 'lives_here' | 'died' | 'moved' | 'not_found';
export const PRESENCES: Presence[] = ['lives_here', 'died', 'moved', 'not_found'];

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
  /** When the registry file last written into this household was imported (ms). */
  imported?: number | null;
}

export interface Member {
  nik?: string;
  name?: string;
  sex?: 'L' | 'P';
  birth_date?: string;
  relation?: string;
  presence?: string;
  /** NIK disagrees with the recorded sex or birth date (advice, never an error). */
  warnings?: string[];
}

export type IncomeSourceAnswer = {
  occupation: string;
  land_m2: number;
  income_rp: number;
};

/** number → number; option → option text; yes_no → boolean (true = yes); income_source → object. */
export type AnswerValue = number | string | boolean | IncomeSourceAnswer;
export type Answers = Record<string, AnswerValue>;

/** A visit as `get_household` shows it. Only a household found is scored: for every
 *  other result `score` and `poor` are null (no verdict), `met` and `unanswered` empty. */
export interface Visit extends Omit<Score, 'score' | 'poor'> {
  score: number | null;
  poor: boolean | null;
  date: string;
  kader: string;
  result: string;
  answers: Answers;
  notes?: string;
  documents?: Documents;
  member_changes?: Record<string, string>;
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
  /** The fasilitator's notes to the field (note id → note), e.g. why a conflict was decided so. */
  notes?: Record<string, Note>;
}

export type ConflictKind = ConflictItem['kind'];
export const CONFLICT_KINDS: ConflictKind[] = ['field', 'divergent_visits', 'possible_duplicate'];

export type AnswerKind = 'number' | 'option' | 'yes_no' | 'income_source';

/** Every column Jemput reads from a registry file, in the order the mapping select offers them. */
export const FIELDS: Field[] = [
  'id_dtks', 'idbdt', 'id_art', 'nik', 'kk', 'name', 'relation', 'sex', 'birth_date',
  'address', 'rt', 'rw', 'region_code', 'desil', 'pkh', 'bpnt', 'pbi', 'kip',
];
/** What an unrecognised column may be mapped to: a field, or left out of the import. */
export type ColumnTarget = Field | 'ignore';
