// A hand-written SVG chart of a bench run: throughput and p99 latency per scenario, gw next to
// the nginx reference and the floor proxy (uWS + undici with no gateway code).

const esc = (s) =>
  String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function niceMax(value) {
  if (!(value > 0)) return 1;
  const exp = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (step * exp >= value) return step * exp;
  return 10 * exp;
}

const fmt = (v, digits = 0) =>
  v >= 1000 && digits === 0 ? `${(v / 1000).toFixed(v >= 10000 ? 0 : 1)}K` : v.toFixed(digits);

const KINDS = ['gw', 'nginx', 'floor'];

/**
 * One panel: grouped bars (gw, nginx, floor) per scenario; a missing reference leaves a gap.
 * rows: [{ label, gw, nginx, floor, note, note2 }]
 */
function panel({ x, y, width, height, title, unit, rows, digits }) {
  const parts = [];
  const left = 58;
  const bottom = 68;
  const plotW = width - left - 10;
  const plotH = height - bottom - 30;
  const top = y + 30;
  const max = niceMax(Math.max(...rows.flatMap((r) => KINDS.map((k) => r[k] ?? 0))));
  parts.push(`<text x="${x + left}" y="${y + 16}" class="title">${esc(title)}</text>`);
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    const gy = top + plotH - (plotH * i) / 4;
    parts.push(`<line x1="${x + left}" y1="${gy}" x2="${x + left + plotW}" y2="${gy}" class="grid"/>`);
    parts.push(
      `<text x="${x + left - 6}" y="${gy + 4}" class="axis" text-anchor="end">${esc(fmt(v, digits))}</text>`,
    );
  }
  parts.push(
    `<text x="${x + 12}" y="${top + plotH / 2}" class="axis" transform="rotate(-90 ${x + 12} ${top + plotH / 2})" text-anchor="middle">${esc(unit)}</text>`,
  );
  const groupW = plotW / Math.max(1, rows.length);
  const barW = Math.min(24, groupW / 4);
  rows.forEach((r, i) => {
    const gx = x + left + groupW * i + groupW / 2;
    KINDS.forEach((kind, j) => {
      const v = r[kind];
      if (v === undefined || v === null) return;
      const h = (plotH * v) / max;
      const bx = gx - 1.5 * barW + j * barW;
      parts.push(
        `<rect x="${bx.toFixed(1)}" y="${(top + plotH - h).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${h.toFixed(1)}" class="${kind}"><title>${esc(`${r.label} ${kind}: ${fmt(v, digits)} ${unit}`)}</title></rect>`,
      );
    });
    parts.push(
      `<text x="${gx}" y="${top + plotH + 16}" class="label" text-anchor="middle">${esc(r.label)}</text>`,
    );
    if (r.note)
      parts.push(
        `<text x="${gx}" y="${top + plotH + 30}" class="note" text-anchor="middle">${esc(r.note)}</text>`,
      );
    if (r.note2)
      parts.push(
        `<text x="${gx}" y="${top + plotH + 43}" class="note" text-anchor="middle">${esc(r.note2)}</text>`,
      );
  });
  return parts.join('\n');
}

export function renderChart(report) {
  const rows = report.scenarios.filter((s) => s.gw);
  const width = Math.max(1000, 110 * rows.length * 2 + 120);
  const panelW = width / 2;
  const height = 344;
  const rounds = report.meta.rounds > 1 ? `, medians of ${report.meta.rounds} rounds` : '';
  const header = `gw vs nginx proxy_pass vs floor (uWS + undici) — ${report.meta.connections} connections, ${report.meta.durationSec}s per run${rounds}, ${report.meta.cpus} CPUs, ${report.meta.date}`;
  const thr = panel({
    x: 0,
    y: 30,
    width: panelW,
    height: height - 30,
    title: 'Throughput (req/s, higher is better)',
    unit: 'req/s',
    digits: 0,
    rows: rows.map((s) => ({
      label: s.name,
      gw: s.gw.reqPerSec,
      nginx: s.nginx?.reqPerSec ?? null,
      floor: s.floor?.reqPerSec ?? null,
      note: s.ratio ? `${s.ratio.toFixed(2)}× nginx${s.nginxPath === s.path ? '' : ` ${s.nginxPath}`}` : '',
      note2: s.floorRatio
        ? `${s.floorRatio.toFixed(2)}× floor${s.floorPath === s.path ? '' : ` ${s.floorPath}`}`
        : '',
    })),
  });
  const lat = panel({
    x: panelW,
    y: 30,
    width: panelW,
    height: height - 30,
    title: 'p99 latency (ms, lower is better)',
    unit: 'ms',
    digits: 1,
    rows: rows.map((s) => ({
      label: s.name,
      gw: s.gw.latencyMs.p99,
      nginx: s.nginx?.latencyMs.p99 ?? null,
      floor: s.floor?.latencyMs.p99 ?? null,
      note: s.p99Ratio ? `${s.p99Ratio.toFixed(2)}× nginx` : '',
      note2: s.floorP99Ratio ? `${s.floorP99Ratio.toFixed(2)}× floor` : '',
    })),
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height + 20}" viewBox="0 0 ${width} ${height + 20}" font-family="Helvetica, Arial, sans-serif">
<style>
  .title { font-size: 13px; font-weight: bold; fill: #222; }
  .head { font-size: 13px; fill: #222; }
  .axis { font-size: 10px; fill: #555; }
  .label { font-size: 11px; fill: #222; }
  .note { font-size: 10px; fill: #666; }
  .grid { stroke: #e3e3e3; stroke-width: 1; }
  .gw { fill: #2f7ed8; }
  .nginx { fill: #8c8c8c; }
  .floor { fill: #e39b2f; }
</style>
<rect width="100%" height="100%" fill="#fff"/>
<text x="10" y="18" class="head">${esc(header)}</text>
<rect x="${width - 200}" y="8" width="12" height="12" class="gw"/><text x="${width - 184}" y="18" class="label">gw</text>
<rect x="${width - 150}" y="8" width="12" height="12" class="nginx"/><text x="${width - 134}" y="18" class="label">nginx</text>
<rect x="${width - 90}" y="8" width="12" height="12" class="floor"/><text x="${width - 74}" y="18" class="label">floor</text>
${thr}
${lat}
</svg>
`;
}
