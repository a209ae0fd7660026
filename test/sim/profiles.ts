/** Fault profiles: how hostile the simulated world is. One is chosen per run. */

export interface Profile {
  name: string;
  minDelayMs: number;
  maxDelayMs: number;
  lossRate: number;
  duplicateRate: number;
  /** Per-tick probability of starting a partition (symmetric split, isolation or one-way cuts). */
  partitionRate: number;
  /** Per-tick probability of crashing a running member. */
  crashRate: number;
  /** The disk loses fsync'd writes on crash. */
  lyingDisk: boolean;
  /** At most this many fsync'd writes are lost per crash on a lying disk. */
  maxLostWrites: number;
  /** Snapshot and compact once this many applied entries sit in the log. */
  compactThreshold: number;
  /** Per-tick probability of proposing a membership change (add voter/learner, promote, remove). */
  membershipRate: number;
  /**
   * Per-tick probability of pausing a member (a long GC or VM stall): it neither ticks nor
   * handles messages for a while, then resumes with its state intact.
   */
  pauseRate: number;
  /** Per-tick probability of asking the leader to transfer leadership to a random voter. */
  transferRate: number;
}

const base: Profile = {
  name: "calm",
  minDelayMs: 1,
  maxDelayMs: 5,
  lossRate: 0,
  duplicateRate: 0,
  partitionRate: 0,
  crashRate: 0,
  lyingDisk: false,
  maxLostWrites: 0,
  compactThreshold: 200,
  membershipRate: 0,
  transferRate: 0,
  pauseRate: 0,
};

export const PROFILES: readonly Profile[] = [
  base,
  { ...base, name: "lossy", maxDelayMs: 40, lossRate: 0.1, duplicateRate: 0.05 },
  { ...base, name: "partitions", maxDelayMs: 15, lossRate: 0.01, partitionRate: 0.01, transferRate: 0.003 },
  { ...base, name: "crashes", maxDelayMs: 15, lossRate: 0.01, crashRate: 0.006, compactThreshold: 30 },
  { ...base, name: "snapshots", maxDelayMs: 20, lossRate: 0.05, partitionRate: 0.004, crashRate: 0.002, compactThreshold: 5 },
  { ...base, name: "chaos", maxDelayMs: 50, lossRate: 0.08, duplicateRate: 0.05, partitionRate: 0.01, crashRate: 0.006, compactThreshold: 20, transferRate: 0.003, pauseRate: 0.003 },
  { ...base, name: "pauses", maxDelayMs: 15, lossRate: 0.01, partitionRate: 0.003, pauseRate: 0.01, transferRate: 0.002 },
  { ...base, name: "membership", maxDelayMs: 20, lossRate: 0.03, partitionRate: 0.004, crashRate: 0.003, compactThreshold: 15, membershipRate: 0.02, transferRate: 0.003 },
  { ...base, name: "lying-disk", maxDelayMs: 15, lossRate: 0.02, partitionRate: 0.004, crashRate: 0.02, lyingDisk: true, maxLostWrites: 4, compactThreshold: 100 },
];

/** Profiles whose runs must be free of violations. */
export const HONEST_PROFILES = PROFILES.filter((p) => !p.lyingDisk);

export function findProfile(name: string): Profile {
  const p = PROFILES.find((x) => x.name === name);
  if (!p) throw new Error(`unknown profile ${name}; known: ${PROFILES.map((x) => x.name).join(", ")}`);
  return p;
}
