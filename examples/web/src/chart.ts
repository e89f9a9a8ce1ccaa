// A small SVG line chart of hourly heart rate: the mean as a line over the min–max band.

/** One point of the chart: bucket start (ms since the epoch) and min, mean, max in bpm. */
export interface HeartRatePoint {
  time: number;
  min: number;
  avg: number;
  max: number;
}

const WIDTH = 760;
const HEIGHT = 240;
const PAD = { left: 40, right: 10, top: 10, bottom: 24 };

/** Renders `points` (oldest first) as an SVG element string. */
export function heartRateChart(points: HeartRatePoint[]): string {
  if (points.length === 0) {
    return `<p data-testid="chart-empty">No heart rate yet.</p>`;
  }
  const t0 = points[0].time;
  const t1 = points[points.length - 1].time || t0 + 1;
  const lo = Math.floor(Math.min(...points.map((p) => p.min)) / 10) * 10;
  const hi = Math.ceil(Math.max(...points.map((p) => p.max)) / 10) * 10 || lo + 10;
  const x = (t: number) => PAD.left + ((t - t0) / Math.max(t1 - t0, 1)) * (WIDTH - PAD.left - PAD.right);
  const y = (v: number) => PAD.top + (1 - (v - lo) / Math.max(hi - lo, 1)) * (HEIGHT - PAD.top - PAD.bottom);
  const line = points.map((p) => `${x(p.time).toFixed(1)},${y(p.avg).toFixed(1)}`).join(" ");
  const band = [
    ...points.map((p) => `${x(p.time).toFixed(1)},${y(p.max).toFixed(1)}`),
    ...points.reverse().map((p) => `${x(p.time).toFixed(1)},${y(p.min).toFixed(1)}`),
  ].join(" ");
  points.reverse();
  const day = (t: number) => new Date(t).toISOString().slice(0, 10);
  const ticks = [lo, (lo + hi) / 2, hi]
    .map(
      (v) =>
        `<line x1="${PAD.left}" x2="${WIDTH - PAD.right}" y1="${y(v)}" y2="${y(v)}" stroke="#e3e6ef"/>` +
        `<text x="${PAD.left - 6}" y="${y(v) + 4}" text-anchor="end" font-size="11" fill="#667">${v}</text>`,
    )
    .join("");
  return (
    `<svg viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="hourly heart rate" data-points="${points.length}">` +
    ticks +
    `<polygon points="${band}" fill="#ffd6d6" stroke="none"/>` +
    `<polyline points="${line}" fill="none" stroke="#d92d20" stroke-width="1.5" data-testid="heart-rate-line"/>` +
    `<text x="${PAD.left}" y="${HEIGHT - 6}" font-size="11" fill="#667">${day(t0)}</text>` +
    `<text x="${WIDTH - PAD.right}" y="${HEIGHT - 6}" font-size="11" fill="#667" text-anchor="end">${day(t1)}</text>` +
    `</svg>`
  );
}
