import { readFile } from 'node:fs/promises';

/** Least and mean cosine, text by text, between two vector files as encoderChild.ts writes them (`rows` rows of Float32 each). */
export async function vectorCosines(a: string, b: string, rows: number): Promise<{ min: number; mean: number }> {
  const [x, y] = await Promise.all([a, b].map(async (f) => new Float32Array(new Uint8Array(await readFile(f)).buffer)));
  if (x!.length !== y!.length || x!.length % rows !== 0) throw new Error(`${a} and ${b} do not hold ${rows} vectors of one width each`);
  const dims = x!.length / rows;
  let min = Infinity;
  let sum = 0;
  for (let r = 0; r < rows; r++) {
    let dot = 0, nx = 0, ny = 0;
    for (let d = r * dims; d < (r + 1) * dims; d++) {
      dot += x![d]! * y![d]!;
      nx += x![d]! * x![d]!;
      ny += y![d]! * y![d]!;
    }
    const c = dot / Math.sqrt(nx * ny);
    min = Math.min(min, c);
    sum += c;
  }
  return { min: Number(min.toFixed(5)), mean: Number((sum / rows).toFixed(5)) };
}
