import { useEffect, useRef, useState } from 'react';
import { formatTime } from '../../lib/time';

export interface LatencyPoint {
  start: string;
  deliveries: number;
  meanMs: number | null;
  maxMs: number | null;
}

const HEIGHT = 160;
const PAD = { top: 12, right: 8, bottom: 22, left: 48 };

/** The element's width in CSS pixels, followed as it changes: the chart is drawn at the size it is shown. */
function useWidth<T extends Element>(initial: number) {
  const ref = useRef<T>(null);
  const [width, setWidth] = useState(initial);
  useEffect(() => {
    const element = ref.current;
    if (!element) return;
    const observer = new ResizeObserver(([entry]) => setWidth(Math.max(200, Math.floor(entry.contentRect.width))));
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  return [ref, width] as const;
}

/** A round top for the axis: 10, 20, 50, 100, 200, 500 ms… */
function niceMax(value: number): number {
  const top = Math.max(value, 10);
  const step = 10 ** Math.floor(Math.log10(top));
  return [1, 2, 5, 10].map((m) => m * step).find((v) => v >= top)!;
}

/**
 * Delivery latency over the dashboard's window as an inline SVG (a chart library would weigh more than this page):
 * a bar per 10-second stretch for the mean, a tick for the longest. Times on the axis are the clinic's.
 */
export function LatencyChart({ points, timeZone }: { points: readonly LatencyPoint[]; timeZone: string }) {
  const [ref, width] = useWidth<HTMLElement>(600);
  const top = niceMax(Math.max(0, ...points.map((p) => p.maxMs ?? 0)));
  const plotW = width - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotW / Math.max(points.length, 1);
  const y = (ms: number) => PAD.top + plotH - (Math.min(ms, top) / top) * plotH;
  const delivered = points.filter((p) => p.deliveries > 0);
  const summary = delivered.length
    ? `${delivered.reduce((n, p) => n + p.deliveries, 0)} deliveries; longest ${Math.round(Math.max(...delivered.map((p) => p.maxMs ?? 0)))} ms`
    : 'No deliveries in the window';
  return (
    <figure className="latency-chart" ref={ref}>
      <svg
        width={width}
        height={HEIGHT}
        viewBox={`0 0 ${width} ${HEIGHT}`}
        role="img"
        aria-label={`Delivery latency, last minutes: ${summary}`}
      >
        {[0, 0.5, 1].map((f) => (
          <g key={f}>
            <line x1={PAD.left} x2={width - PAD.right} y1={y(top * f)} y2={y(top * f)} className="chart-grid" />
            <text x={PAD.left - 6} y={y(top * f) + 4} textAnchor="end" className="chart-label">
              {Math.round(top * f)} ms
            </text>
          </g>
        ))}
        {points.map((p, i) => {
          const x = PAD.left + i * slot;
          if (p.meanMs === null || p.maxMs === null) return null;
          return (
            <g key={p.start}>
              <title>{`${formatTime(p.start, timeZone)}: ${p.deliveries} deliveries, mean ${Math.round(p.meanMs)} ms, longest ${Math.round(p.maxMs)} ms`}</title>
              <rect
                x={x + 1}
                width={Math.max(slot - 2, 1)}
                y={y(p.meanMs)}
                height={PAD.top + plotH - y(p.meanMs)}
                className="chart-bar"
              />
              <line x1={x + 1} x2={x + slot - 1} y1={y(p.maxMs)} y2={y(p.maxMs)} className="chart-max" />
            </g>
          );
        })}
        {points.length > 0 &&
          // First, middle and last stretch: the outer two aligned to the plot's edges, so neither is cut off.
          [0, Math.floor(points.length / 2), points.length - 1].map((i, n) => (
            <text
              key={i}
              x={n === 0 ? PAD.left : n === 2 ? width - PAD.right : PAD.left + i * slot + slot / 2}
              y={HEIGHT - 6}
              textAnchor={n === 0 ? 'start' : n === 2 ? 'end' : 'middle'}
              className="chart-label"
            >
              {formatTime(points[i].start, timeZone)}
            </text>
          ))}
      </svg>
      <figcaption className="chart-caption">Bars: mean latency per 10 s; lines: the longest. {summary}.</figcaption>
    </figure>
  );
}
