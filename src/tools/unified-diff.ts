// A unified diff of two texts (pure): what edit_file answers with.

/** Old lines [a, aEnd) became new lines [b, bEnd). */
type Change = { a: number; aEnd: number; b: number; bEnd: number };

// Myers costs O((N+M)·D) time and O(D²) memory; past this many differing lines the middle
// is shown as removed and added whole: still a correct diff, only not the shortest.
const MAX_D = 2000;

/** Lines with their terminators, so "x" at the end of a file and "x\n" differ, as do "x\r\n" and "x\n". */
function splitLines(text: string): string[] {
  return text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

/** Myers' shortest edit script between a[lo..] and b[lo..] (equal prefix and suffix already cut). */
function myers(a: string[], b: string[], aLo: number, aHi: number, bLo: number, bHi: number): Change[] | undefined {
  const n = aHi - aLo;
  const m = bHi - bLo;
  const max = Math.min(n + m, MAX_D);
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  for (let d = 0; d <= max; d++) {
    trace.push(v.slice(offset - d - 1, offset + d + 2));
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!) ? v[offset + k + 1]! : v[offset + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[aLo + x] === b[bLo + y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) return backtrack(trace, d, n, m, aLo, bLo);
    }
  }
  return undefined;
}

/** Walks the saved frontiers back from (n, m) and joins the single steps into changes. */
function backtrack(trace: Int32Array[], dEnd: number, n: number, m: number, aLo: number, bLo: number): Change[] {
  const steps: { del: boolean; x: number; y: number }[] = [];
  let x = n;
  let y = m;
  for (let d = dEnd; d > 0; d--) {
    // trace[d] holds v[-d-1 .. d+1] as it stood before step d.
    const at = (k: number) => trace[d]![k + d + 1]!;
    const k = x - y;
    const down = k === -d || (k !== d && at(k - 1) < at(k + 1));
    const prevK = down ? k + 1 : k - 1;
    x = at(prevK);
    y = x - prevK;
    // Down from (x, y) adds b[y]; right from it removes a[x].
    steps.push({ del: !down, x, y });
  }
  steps.reverse();
  const changes: Change[] = [];
  for (const s of steps) {
    // A deletion removes a[s.x]; an insertion adds b[s.y]; both at the point (s.x, s.y).
    const last = changes.at(-1);
    const a = aLo + s.x;
    const b = bLo + s.y;
    if (last && last.aEnd === a && last.bEnd === b) {
      if (s.del) last.aEnd++;
      else last.bEnd++;
    } else changes.push({ a, aEnd: s.del ? a + 1 : a, b, bEnd: s.del ? b : b + 1 });
  }
  return changes;
}

function changesBetween(a: string[], b: string[]): Change[] {
  // Small edits to a large file: only the region between the common prefix and suffix is diffed.
  let lo = 0;
  while (lo < a.length && lo < b.length && a[lo] === b[lo]) lo++;
  let aHi = a.length;
  let bHi = b.length;
  while (aHi > lo && bHi > lo && a[aHi - 1] === b[bHi - 1]) {
    aHi--;
    bHi--;
  }
  if (lo === aHi && lo === bHi) return [];
  return myers(a, b, lo, aHi, lo, bHi) ?? [{ a: lo, aEnd: aHi, b: lo, bEnd: bHi }];
}

/** GNU's range: a one-line range has no count; an empty one names the line before it. */
function range(start: number, count: number): string {
  if (count === 0) return `${start},0`;
  return count === 1 ? `${start + 1}` : `${start + 1},${count}`;
}

function show(prefix: string, line: string): string {
  // A CRLF file's diff reads like any other; the ending is the file's, kept by the caller.
  const body = line.endsWith("\n") ? line.slice(0, line.endsWith("\r\n") ? -2 : -1) : line;
  return line.endsWith("\n") ? `${prefix}${body}\n` : `${prefix}${body}\n\\ No newline at end of file\n`;
}

/** The unified diff from `before` to `after` under `path`, with `context` lines around each change; "" when equal. */
export function unifiedDiff(before: string, after: string, path: string, context = 3): string {
  const a = splitLines(before);
  const b = splitLines(after);
  const changes = changesBetween(a, b);
  if (changes.length === 0) return "";
  let out = `--- ${path}\n+++ ${path}\n`;
  for (let i = 0; i < changes.length; ) {
    // A hunk takes every following change whose gap is small enough to share context.
    let j = i;
    while (j + 1 < changes.length && changes[j + 1]!.a - changes[j]!.aEnd <= 2 * context) j++;
    const first = changes[i]!;
    const last = changes[j]!;
    const aStart = Math.max(0, first.a - context);
    const aEnd = Math.min(a.length, last.aEnd + context);
    const bStart = aStart + (first.b - first.a);
    const bEnd = aEnd + (last.bEnd - last.aEnd);
    out += `@@ -${range(aStart, aEnd - aStart)} +${range(bStart, bEnd - bStart)} @@\n`;
    let at = aStart;
    for (let k = i; k <= j; k++) {
      const c = changes[k]!;
      for (; at < c.a; at++) out += show(" ", a[at]!);
      for (let x = c.a; x < c.aEnd; x++) out += show("-", a[x]!);
      for (let y = c.b; y < c.bEnd; y++) out += show("+", b[y]!);
      at = c.aEnd;
    }
    for (; at < aEnd; at++) out += show(" ", a[at]!);
    i = j + 1;
  }
  return out;
}
