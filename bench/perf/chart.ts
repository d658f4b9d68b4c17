/**
 * A horizontal bar chart of max DORA/s per server, as a standalone SVG
 * string. No dependencies; pure.
 */

export interface Bar {
  label: string;
  value: number | null;
  /** small text after the value, e.g. "median of 2" */
  note?: string;
  family: "reference" | "kea" | "pydhcp";
}

/** grey for the reference row: it is the harness's limit, not a server */
const COLORS = { reference: "#9d9d9d", kea: "#4e79a7", pydhcp: "#f28e2b" } as const;

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** A round axis maximum at or above v: 1, 2, 2.5 or 5 times a power of ten. */
export function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

export function barChartSvg(title: string, subtitle: string, bars: Bar[]): string {
  const left = 150, right = 110, top = 58, rowH = 34, barH = 22, width = 720;
  const plotW = width - left - right;
  const height = top + bars.length * rowH + 40;
  const max = niceMax(Math.max(0, ...bars.map((b) => b.value ?? 0)));
  const x = (v: number) => left + (v / max) * plotW;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${left}" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`,
    `<text x="${left}" y="40" fill="#555">${esc(subtitle)}</text>`,
  ];
  for (let t = 0; t <= 4; t++) {
    const v = (max / 4) * t;
    const tx = x(v).toFixed(1);
    out.push(`<line x1="${tx}" y1="${top - 4}" x2="${tx}" y2="${top + bars.length * rowH}" stroke="#ddd"/>`);
    out.push(`<text x="${tx}" y="${top + bars.length * rowH + 16}" text-anchor="middle" fill="#555">${Math.round(v)}</text>`);
  }
  bars.forEach((b, i) => {
    const y = top + i * rowH;
    out.push(`<text x="${left - 8}" y="${y + barH / 2 + 4}" text-anchor="end">${esc(b.label)}</text>`);
    if (b.value === null) {
      out.push(`<text x="${left + 4}" y="${y + barH / 2 + 4}" fill="#a00">not measured</text>`);
      return;
    }
    const w = Math.max(1, x(b.value) - left);
    out.push(`<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${COLORS[b.family]}"/>`);
    const label = `${Math.round(b.value)}${b.note ? ` ${b.note}` : ""}`;
    out.push(`<text x="${(left + w + 6).toFixed(1)}" y="${y + barH / 2 + 4}">${esc(label)}</text>`);
  });
  out.push(`<text x="${left + plotW / 2}" y="${height - 6}" text-anchor="middle" fill="#555">DORA/s with under 1% lost</text>`);
  out.push("</svg>");
  return out.join("\n") + "\n";
}
