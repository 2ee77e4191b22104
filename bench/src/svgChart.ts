export interface Series {
  name: string;
  points: [number, number][];
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];

/** A line chart as a standalone SVG: x from 0 to the largest k, y from 0 to 1, with a legend. */
export function lineChart(title: string, xLabel: string, yLabel: string, series: Series[]): string {
  const [w, h, left, right, top, bottom] = [720, 440, 60, 170, 40, 50];
  const maxX = Math.max(...series.flatMap((s) => s.points.map(([x]) => x)));
  const px = (x: number) => left + (x / maxX) * (w - left - right);
  const py = (y: number) => h - bottom - y * (h - top - bottom);
  const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="sans-serif" font-size="12">`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text x="${w / 2 - right / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`,
  ];
  for (let i = 0; i <= 10; i++) {
    const y = i / 10;
    parts.push(`<line x1="${left}" x2="${w - right}" y1="${py(y)}" y2="${py(y)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${left - 6}" y="${py(y) + 4}" text-anchor="end">${y.toFixed(1)}</text>`);
  }
  const ticks = [...new Set(series.flatMap((s) => s.points.map(([x]) => x)))].sort((a, b) => a - b);
  for (const x of ticks) parts.push(`<text x="${px(x)}" y="${h - bottom + 16}" text-anchor="middle">${x}</text>`);
  parts.push(`<line x1="${left}" x2="${w - right}" y1="${py(0)}" y2="${py(0)}" stroke="black"/>`);
  parts.push(`<line x1="${left}" x2="${left}" y1="${py(0)}" y2="${py(1)}" stroke="black"/>`);
  parts.push(`<text x="${(left + w - right) / 2}" y="${h - 12}" text-anchor="middle">${esc(xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${(top + h - bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const d = s.points.map(([x, y], j) => `${j ? 'L' : 'M'}${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ');
    parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
    for (const [x, y] of s.points) parts.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${color}"/>`);
    const ly = top + 10 + i * 20;
    parts.push(`<line x1="${w - right + 15}" x2="${w - right + 35}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"/>`);
    parts.push(`<text x="${w - right + 40}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
