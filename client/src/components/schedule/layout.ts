/**
 * Side-by-side lanes for overlapping appointments in one column (a cancelled visit and the booking that took its slot).
 */
export interface Span {
  id: string;
  start: number;
  end: number;
}

export function layoutLanes(spans: readonly Span[]): Map<string, { lane: number; lanes: number }> {
  const sorted = [...spans].sort((a, b) => a.start - b.start || a.end - b.end);
  const result = new Map<string, { lane: number; lanes: number }>();
  let cluster: { span: Span; lane: number }[] = [];
  let clusterEnd = -Infinity;
  const flush = () => {
    const lanes = Math.max(1, ...cluster.map((c) => c.lane + 1));
    for (const c of cluster) result.set(c.span.id, { lane: c.lane, lanes });
    cluster = [];
  };
  for (const span of sorted) {
    if (span.start >= clusterEnd) {
      flush();
      clusterEnd = -Infinity;
    }
    const taken = new Set(cluster.filter((c) => c.span.end > span.start).map((c) => c.lane));
    let lane = 0;
    while (taken.has(lane)) lane++;
    cluster.push({ span, lane });
    clusterEnd = Math.max(clusterEnd, span.end);
  }
  flush();
  return result;
}
