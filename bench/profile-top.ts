// Where a V8 CPU profile spends its time, by self time: the top functions and the top packages (a dependency
// under node_modules by name, Signet's own files as `signet`, Node's internals as `node`, the rest as
// `(idle)`, `(garbage collector)`, `(program)`). For the `.cpuprofile` files BENCH_CPU_PROF=<folder> makes
// (bench/lib.ts spawnNode):
//
//   node --import tsx bench/profile-top.ts <file.cpuprofile> [top]    # top: how many rows (default 25)
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function packageOf(url: string, name: string): string {
  if (!url) return name.startsWith('(') ? name : 'native';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('node:') || !url.includes('/')) return 'node';
  return 'signet';
}

const [file, topArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node --import tsx bench/profile-top.ts <file.cpuprofile> [top]\n');
  process.exit(2);
}
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
let total = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  self.set(id, (self.get(id) ?? 0) + dt);
  total += dt;
});
const keyOf = (n: ProfileNode) => {
  const { functionName, url, lineNumber } = n.callFrame;
  const where = url ? `${url.replace(/^.*\/(node_modules|src|bench)\//, '$1/')}:${lineNumber + 1}` : '';
  return `${functionName || '(anonymous)'} ${where}`.trim();
};
const byFunction = new Map<string, number>();
const byPackage = new Map<string, number>();
let idle = 0;
for (const [id, us] of self) {
  const node = byId.get(id)!;
  const { functionName, url } = node.callFrame;
  if (functionName === '(idle)') idle += us;
  const key = keyOf(node);
  byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  const pkg = packageOf(url, functionName);
  byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
}
// Inclusive time: a node's own samples plus its descendants', summed per function once per stack (a function
// that recurses is not counted twice).
const inclusive = new Map<string, number>();
const walk = (id: number, onStack: Set<string>): number => {
  const node = byId.get(id)!;
  let sum = self.get(id) ?? 0;
  const key = keyOf(node);
  const fresh = !onStack.has(key);
  if (fresh) onStack.add(key);
  for (const child of node.children ?? []) sum += walk(child, onStack);
  if (fresh) {
    onStack.delete(key);
    inclusive.set(key, (inclusive.get(key) ?? 0) + sum);
  }
  return sum;
};
walk(profile.nodes[0]!.id, new Set());
const busy = total - idle;
const pct = (us: number) => `${((100 * us) / busy).toFixed(1)}%`.padStart(6);
const rows = (m: Map<string, number>) =>
  [...m]
    .filter(([k]) => k !== '(idle)')
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, us]) => `${pct(us)}  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`)
    .join('\n');
const own = new Map([...inclusive].filter(([k]) => /file:\/\/\/|src\/|fastify\/lib/.test(k)));
process.stdout.write(
  `${file}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy (shares are of busy time)\n\n` +
    `by package\n${rows(byPackage)}\n\nby function (self time)\n${rows(byFunction)}\n\n` +
    `by function, inclusive (itself and what it calls), Signet's and Fastify's own\n${rows(own)}\n`,
);
