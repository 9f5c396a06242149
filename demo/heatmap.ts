// Expert activity heat map on a canvas: for each MoE layer a block of recent steps (rows, newest at
// the bottom) by experts (columns); a lit cell is an expert the batch read in that step. The baseline
// panel marks in a second colour the experts the baseline routing woke that the policy skipped.
// Until the engine reports expert sets (only counts per layer), each layer is one row of recent
// steps shaded by its share of experts woken.

export interface StepActivity {
  /** Distinct experts per layer (0 for dense layers). */
  counts: number[];
  /** Per layer, the expert ids the step read (when the engine reports them). */
  sets?: number[][];
}

const EMPTY = '#eef1f6';
const ON = '#6d28d9';
const SKIPPED = '#f59e0b';
const LABEL = '#64748b';

export const HEATMAP_COLORS = { EMPTY, ON, SKIPPED };

export class Heatmap {
  private readonly ctx: CanvasRenderingContext2D;
  private readonly history: { policy: StepActivity; baseline?: StepActivity }[] = [];

  constructor(
    readonly canvas: HTMLCanvasElement,
    private readonly which: 'policy' | 'baseline',
    private readonly rowsPerLayer = 16,
  ) {
    this.ctx = canvas.getContext('2d')!;
  }

  layers = 0;
  experts = 0;

  reset(layers: number, experts: number): void {
    this.layers = layers;
    this.experts = experts;
    this.history.length = 0;
    this.draw();
  }

  push(policy: StepActivity, baseline?: StepActivity): void {
    this.history.push({ policy, baseline });
    if (this.history.length > 64) this.history.shift();
    this.draw();
  }

  /** Cells painted in the current picture (tests read the pixels; this is for the status line). */
  painted = 0;

  private draw(): void {
    const { ctx, canvas } = this;
    const L = this.layers;
    const E = this.experts;
    const dpr = Math.min(2, globalThis.devicePixelRatio || 1);
    const cssW = canvas.clientWidth || 320;
    const withSets = this.history.some((h) => h.policy.sets);
    const labelW = 26;
    const gap = 6;
    const rows = withSets ? this.rowsPerLayer : 1;
    const cols = withSets ? E : 64;
    const cellW = Math.max(2, (cssW - labelW) / Math.max(1, cols));
    const cellH = withSets ? Math.max(2, Math.min(5, cellW * 0.6)) : Math.max(10, Math.min(22, cellW * 3));
    const cssH = Math.max(40, L * (rows * cellH + gap));
    canvas.style.height = `${cssH}px`;
    canvas.width = Math.round(cssW * dpr);
    canvas.height = Math.round(cssH * dpr);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, cssW, cssH);
    ctx.font = '10px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    this.painted = 0;
    const recent = this.history.slice(-(withSets ? rows : cols));
    for (let l = 0; l < L; l++) {
      const y0 = l * (rows * cellH + gap);
      ctx.fillStyle = LABEL;
      ctx.fillText(`L${l}`, 2, y0 + (rows * cellH) / 2);
      ctx.fillStyle = EMPTY;
      ctx.fillRect(labelW, y0, cols * cellW, rows * cellH);
      recent.forEach((h, r) => {
        const mine = this.which === 'policy' ? h.policy : h.baseline;
        if (!mine) return;
        if (withSets) {
          const set = mine.sets?.[l];
          if (!set) return;
          const kept = new Set(h.policy.sets?.[l] ?? []);
          const y = y0 + (rows - recent.length + r) * cellH;
          for (const e of set) {
            ctx.fillStyle = this.which === 'baseline' && !kept.has(e) ? SKIPPED : ON;
            ctx.fillRect(labelW + e * cellW, y, Math.max(1, cellW - 1), Math.max(1, cellH - 1));
            this.painted++;
          }
        } else {
          const c = mine.counts[l] ?? 0;
          if (c === 0) return;
          const x = labelW + (cols - recent.length + r) * cellW;
          ctx.globalAlpha = 0.15 + 0.85 * Math.min(1, c / Math.max(1, E));
          ctx.fillStyle = ON;
          ctx.fillRect(x, y0, Math.max(1, cellW - 1), rows * cellH);
          ctx.globalAlpha = 1;
          this.painted++;
        }
      });
    }
  }

  redraw(): void {
    this.draw();
  }
}
