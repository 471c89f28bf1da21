/**
 * The shape every benchmark of `npm run bench` shares: a bench measures one or more figures,
 * each the median of several runs and each next to a floor measured in the same run, and says
 * itself whether its target is met (targets differ: a ratio ≤ 2, a rate ratio ≥ 0.5, a p99 ≤ 1 s).
 * bench/run.ts runs them (all, or `--only <name>`) and writes bench/RESULTS.md from what they return.
 */

/** One row of the results table. */
export interface Figure {
  /** What was measured, as the table's first column says it. */
  figure: string;
  /** Our median, in `unit`. */
  ours: number;
  /** The floor's median, in `unit`, measured in the same run (what the same work costs bare). */
  floor: number;
  /** 'ms', 'per s', 'KiB', 'MiB'… */
  unit: string;
  /** ours ÷ floor (for rates too: a rate ratio ≥ target means fast enough). */
  ratio: number;
  /** The target as the page says it, e.g. '≤ 2×', '≥ 0.5×', 'p99 ≤ 1 s'. */
  target: string;
  met: boolean;
  /** Every run, ours and floor, in `unit`, for the page. */
  runs?: { ours: number[]; floor: number[] };
  /** How it was measured where the label cannot say it, and by how much and why where missed. */
  note?: string;
}

/** A generated file next to RESULTS.md (the job-time chart). */
export interface Artifact {
  /** File name inside bench/, e.g. 'job-time.svg'. */
  file: string;
  content: string;
  /** The Markdown that shows it on the page, e.g. '![job time](job-time.svg)'. */
  markdown: string;
}

/** What one bench hands back. */
export interface BenchResult {
  figures: Figure[];
  artifacts?: Artifact[];
}

/** What the runner gives every bench. */
export interface BenchContext {
  /** Runs per figure (the median is reported); benches may use fewer where a run is long. */
  runs: number;
  /** A DynamoDB Local (in memory) the runner started; make tables of your own on it. */
  dynamoEndpoint: string;
  /** Progress for the console (never a code or a secret). */
  log(line: string): void;
}

/** One benchmark: `npm run bench -- --only <name>` runs just it. */
export interface Bench {
  name: string;
  /** One line for `--list` and the page. */
  title: string;
  run(context: BenchContext): Promise<BenchResult>;
}

/** The median of a non-empty list. */
export const median = (values: readonly number[]): number => {
  if (values.length === 0) throw new Error('median of nothing');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** The q-quantile (0..1) of a non-empty list, nearest rank. */
export const quantile = (values: readonly number[], q: number): number => {
  if (values.length === 0) throw new Error('quantile of nothing');
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
};

/** A figure where lower is better (times, sizes): met when ours ÷ floor ≤ `max`. */
export const atMost = (figure: string, unit: string, ours: number[], floor: number[], max: number, note?: string): Figure => {
  const ratio = median(ours) / median(floor);
  return { figure, unit, ours: median(ours), floor: median(floor), ratio, target: `≤ ${max}×`, met: ratio <= max, runs: { ours, floor }, ...(note ? { note } : {}) };
};

/** A figure where higher is better (rates): met when ours ÷ floor ≥ `min`. */
export const atLeast = (figure: string, unit: string, ours: number[], floor: number[], min: number, note?: string): Figure => {
  const ratio = median(ours) / median(floor);
  return { figure, unit, ours: median(ours), floor: median(floor), ratio, target: `≥ ${min}×`, met: ratio >= min, runs: { ours, floor }, ...(note ? { note } : {}) };
};
