import type { Rng } from '../../util/rng.js';
import type {
  AdmissionPolicy,
  ClusterView,
  EngineConfig,
  PreemptionPolicy,
  ReplicaView,
  RouteRequest,
  Router,
  SeqView,
} from '../types.js';

/** Replica i, i+1, … in turn, whatever their load. */
export function roundRobin(): Router {
  let next = 0;
  return {
    name: 'round-robin',
    readsKvState: false,
    route(_req: RouteRequest, cluster: ClusterView): number {
      const i = next % cluster.replicas.length;
      next = i + 1;
      return i;
    },
  };
}

/** A uniformly random replica (seeded). */
export function randomRouter(): Router {
  return {
    name: 'random',
    readsKvState: false,
    route(_req: RouteRequest, cluster: ClusterView, rng: Rng): number {
      return rng.int(cluster.replicas.length);
    },
  };
}

/** Fewest outstanding (waiting + running) requests; ties to the lowest index. */
export function leastOutstanding(): Router {
  return {
    name: 'least-outstanding',
    readsKvState: false,
    route(_req: RouteRequest, cluster: ClusterView): number {
      const loads = cluster.outstanding;
      let best = 0;
      let bestLoad = Infinity;
      for (let i = 0; i < loads.length; i++) {
        const load = loads[i]!;
        if (load < bestLoad) {
          bestLoad = load;
          best = i;
        }
      }
      return best;
    },
  };
}

/** Lowest fraction of KV blocks in use, then fewest waiting, then lowest index. */
export function leastKv(): Router {
  return {
    name: 'least-kv',
    readsKvState: true,
    route(_req: RouteRequest, cluster: ClusterView): number {
      const replicas: readonly ReplicaView[] = cluster.replicas;
      let best = 0;
      let bestUse = Infinity;
      let bestWaiting = Infinity;
      for (let i = 0; i < replicas.length; i++) {
        const r = replicas[i]!;
        const use = r.kvUsedBlocks() / r.kvTotalBlocks();
        const waiting = r.waitingCount();
        if (use < bestUse || (use === bestUse && waiting < bestWaiting)) {
          best = i;
          bestUse = use;
          bestWaiting = waiting;
        }
      }
      return best;
    },
  };
}

/**
 * The replica holding the longest cached prefix of the request, among those whose outstanding
 * requests are at most the least-loaded replica's plus `affinityLoadSlack` (the load cap); ties
 * to fewer outstanding, then the lowest index. Without prefix keys: least-outstanding.
 */
export function prefixAffinity(config: EngineConfig): Router {
  const slack = config.affinityLoadSlack;
  return {
    name: 'prefix-affinity',
    readsKvState: true,
    route(req: RouteRequest, cluster: ClusterView): number {
      const replicas = cluster.replicas;
      const loads = cluster.outstanding;
      let minLoad = Infinity;
      for (let i = 0; i < loads.length; i++) minLoad = Math.min(minLoad, loads[i]!);
      let best = -1;
      let bestHit = -1;
      let bestLoad = Infinity;
      for (let i = 0; i < replicas.length; i++) {
        const load = loads[i]!;
        if (load > minLoad + slack) continue;
        const hit =
          req.keys === null || req.keys.length === 0 ? 0 : replicas[i]!.cachedPrefixBlocks(req.keys);
        if (hit > bestHit || (hit === bestHit && load < bestLoad)) {
          best = i;
          bestHit = hit;
          bestLoad = load;
        }
      }
      return best;
    },
  };
}

/** Admit every arrival. */
export const unlimitedAdmission: AdmissionPolicy = {
  name: 'unlimited',
  admit: () => true,
};

/** Reject an arrival when the chosen replica already has `queueLimit` requests waiting. */
export const queueLimitAdmission: AdmissionPolicy = {
  name: 'queue-limit',
  admit: (replica: ReplicaView, config: EngineConfig) => replica.waitingCount() < config.queueLimit,
};

/** vLLM: preempt the most recently admitted running sequence. */
export const newestFirst: PreemptionPolicy = {
  name: 'newest',
  picksNewest: true,
  pickVictim: (candidates: readonly SeqView[]) => candidates.length - 1,
};

/** Preempt the candidate with the fewest tokens generated (the newest on ties): the least decode work lost to recompute. */
export const fewestGenerated: PreemptionPolicy = {
  name: 'fewest-generated',
  picksNewest: false,
  pickVictim(candidates: readonly SeqView[]): number {
    let best = candidates.length - 1;
    for (let i = candidates.length - 2; i >= 0; i--)
      if (candidates[i]!.generated < candidates[best]!.generated) best = i;
    return best;
  },
};
