// Progress of a server-side job, on stderr (stdout stays for results: `signet export … > users.csv`). On a
// terminal, a cli-progress bar with rows/s and ETA; otherwise (a log file, CI) a plain line every few seconds
// and at every status change, so the output stays readable when redirected.
import cliProgress from 'cli-progress';

const PLAIN_EVERY_MS = 2000;

export interface Tick {
  status: string;
  done: number;
  /** 0 while unknown (an import's row count is known once its file has been checked). */
  total: number;
}

function eta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '-';
  if (seconds < 60) return `${Math.ceil(seconds)}s`;
  const m = Math.floor(seconds / 60);
  return m < 60 ? `${m}m${Math.round(seconds % 60)}s` : `${Math.floor(m / 60)}h${m % 60}m`;
}

export class Progress {
  private readonly tty: boolean;
  private bar: cliProgress.SingleBar | null = null;
  private lastStatus = '';
  private lastPrinted = 0;
  /** When and at how many rows the work was first seen moving: rows/s is measured from there. */
  private from: { at: number; done: number } | null = null;

  constructor(
    /** e.g. "import 0190…" */
    private readonly label: string,
    /** What is counted: "rows", or "%" when only a percentage is known. */
    private readonly unit: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = Boolean(stream.isTTY);
  }

  update(tick: Tick): void {
    const now = Date.now();
    if (tick.status === 'in_process' && this.from === null) this.from = { at: now, done: tick.done };
    const elapsed = this.from ? (now - this.from.at) / 1000 : 0;
    const rate = elapsed > 0 && this.from ? (tick.done - this.from.done) / elapsed : 0;
    // An ETA only while it runs: before, there is no rate; after, nothing is left.
    const left =
      tick.status === 'in_process' && tick.total > 0 && rate > 0
        ? (tick.total - tick.done) / rate
        : Number.NaN;
    if (this.tty) {
      this.drawBar(tick, rate, left);
    } else if (tick.status !== this.lastStatus || now - this.lastPrinted >= PLAIN_EVERY_MS) {
      let line: string;
      if (this.unit === '%') {
        line = `${tick.done}%${Number.isNaN(left) ? '' : `, ETA ${eta(left)}`}`;
      } else {
        const of = tick.total > 0 ? `/${tick.total}` : '';
        const pct = tick.total > 0 ? ` (${Math.floor((tick.done * 100) / tick.total)}%)` : '';
        const speed = rate > 0 ? `, ${Math.round(rate)} ${this.unit}/s` : '';
        const until = Number.isNaN(left) ? '' : `, ETA ${eta(left)}`;
        line = `${tick.done}${of} ${this.unit}${pct}${speed}${until}`;
      }
      this.stream.write(`${this.label}: ${tick.status} ${line}\n`);
      this.lastPrinted = now;
    }
    this.lastStatus = tick.status;
  }

  private drawBar(tick: Tick, rate: number, left: number): void {
    const total = Math.max(tick.total, tick.done, 1);
    const payload = { status: tick.status, rate: Math.round(rate), left: eta(left), unit: this.unit };
    if (!this.bar) {
      this.bar = new cliProgress.SingleBar(
        {
          stream: this.stream,
          format:
            this.unit === '%'
              ? `${this.label} {bar} {percentage}% | ETA {left} | {status}`
              : `${this.label} {bar} {percentage}% | {value}/{total} {unit} | {rate} {unit}/s | ETA {left} | {status}`,
          hideCursor: true,
          clearOnComplete: false,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(total, tick.done, payload);
      return;
    }
    this.bar.setTotal(total);
    this.bar.update(tick.done, payload);
  }

  /** Ends the bar (or prints the last line) before the summary is written. */
  stop(final?: Tick): void {
    if (final) {
      this.lastStatus = '';
      this.update(final);
    }
    this.bar?.stop();
    this.bar = null;
  }
}
