// Savings over time, drawn with uPlot: experts read per step (mean distinct experts per MoE layer, and
// the same as expert-weight megabytes on the right axis) for the policy and for the baseline routing
// of the same step, and a second chart with the batch size and the step time.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface SavingsPoint {
  step: number;
  /** Mean distinct experts per MoE layer under the policy. */
  distinct: number;
  /** The same for the baseline routing of this step (undefined when not reported). */
  baseline?: number;
  batchTokens: number;
  ms: number;
}

const WINDOW = 120;

export class SavingsCharts {
  private readonly points: SavingsPoint[] = [];
  private experts: uPlot;
  private batch: uPlot;
  private mbPerMean = 0;

  constructor(private readonly expertsEl: HTMLElement, private readonly batchEl: HTMLElement) {
    const width = Math.max(260, expertsEl.clientWidth);
    this.experts = new uPlot(
      {
        width,
        height: 170,
        legend: { show: true },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: false }, y: { range: (_u, _min, max) => [0, Math.max(1, max) * 1.15] } },
        axes: [
          { label: 'step', size: 30, labelSize: 14 },
          { label: 'experts / layer', size: 40, labelSize: 14 },
          { side: 1, scale: 'y', label: 'expert MB / step', size: 52, labelSize: 14, grid: { show: false }, values: (_u, splits) => splits.map((v) => (v * this.mbPerMean).toFixed(2)) },
        ],
        series: [
          { label: 'step' },
          { label: 'policy', stroke: '#6d28d9', width: 2, fill: 'rgba(109,40,217,0.08)', points: { show: false } },
          { label: 'baseline', stroke: '#f59e0b', width: 2, dash: [5, 4], points: { show: false } },
        ],
      },
      [[], [], []],
      expertsEl,
    );
    this.batch = new uPlot(
      {
        width,
        height: 120,
        legend: { show: true },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: false }, y: { range: (_u, _min, max) => [0, Math.max(1, max) * 1.15] }, ms: { range: (u) => [0, this.msCeiling(u.data[2] as (number | null)[]) * 1.15] } },
        axes: [
          { size: 24 },
          { label: 'tokens', size: 40, labelSize: 14 },
          { side: 1, scale: 'ms', label: 'ms', size: 46, labelSize: 14, grid: { show: false } },
        ],
        series: [
          { label: 'step' },
          { label: 'batch tokens', stroke: '#0f766e', width: 2, paths: uPlot.paths.stepped!({ align: 1 }), points: { show: false } },
          { label: 'step ms', scale: 'ms', stroke: '#94a3b8', width: 1.5, points: { show: false } },
        ],
      },
      [[], [], []],
      batchEl,
    );
  }

  /** The first steps after a load include shader compilation: keep them from flattening the rest. */
  private msCeiling(ms: (number | null)[]): number {
    const xs = ms.filter((v): v is number => v !== null).sort((a, b) => a - b);
    if (!xs.length) return 1;
    return Math.max(1, Math.min(xs[xs.length - 1], 3 * xs[Math.floor(xs.length / 2)]));
  }

  /** Bytes of expert weights behind one unit of "mean distinct experts per layer". */
  setScale(moeLayers: number, expertBytes: number): void {
    this.mbPerMean = (moeLayers * expertBytes) / 1e6;
    this.points.length = 0;
    this.render();
  }

  push(p: SavingsPoint): void {
    this.points.push(p);
    if (this.points.length > WINDOW) this.points.shift();
    this.render();
  }

  resize(): void {
    const width = Math.max(260, this.expertsEl.clientWidth);
    this.experts.setSize({ width, height: 170 });
    this.batch.setSize({ width, height: 120 });
  }

  private render(): void {
    const p = this.points;
    const x = p.map((q) => q.step);
    this.experts.setData([x, p.map((q) => q.distinct), p.map((q) => q.baseline ?? null)]);
    this.batch.setData([x, p.map((q) => q.batchTokens), p.map((q) => q.ms)]);
  }
}
