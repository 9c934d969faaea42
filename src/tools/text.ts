// Pure helpers on bytes: is it binary, and how to turn it into text without mangling it.

/** How bytes become text: our own paths for the common ones, TextDecoder for the rest. */
export type Encoding =
  | { kind: "utf-8" }
  | { kind: "base64" }
  | { kind: "buffer"; name: "latin1" | "ascii" | "utf-16le" }
  | { kind: "utf-16" }
  | { kind: "decoder"; label: string };

// Python codec names people pass (the Python server took any codec), to ours.
const ALIASES: Record<string, Encoding> = {
  "utf-8": { kind: "utf-8" },
  utf8: { kind: "utf-8" },
  u8: { kind: "utf-8" },
  utf: { kind: "utf-8" },
  "utf-8-sig": { kind: "utf-8" },
  base64: { kind: "base64" },
  // Python's latin-1 is ISO-8859-1 byte for byte; TextDecoder's "latin1" label is windows-1252.
  latin1: { kind: "buffer", name: "latin1" },
  "latin-1": { kind: "buffer", name: "latin1" },
  "iso-8859-1": { kind: "buffer", name: "latin1" },
  "iso8859-1": { kind: "buffer", name: "latin1" },
  l1: { kind: "buffer", name: "latin1" },
  cp819: { kind: "buffer", name: "latin1" },
  ascii: { kind: "buffer", name: "ascii" },
  "us-ascii": { kind: "buffer", name: "ascii" },
  "646": { kind: "buffer", name: "ascii" },
  "utf-16le": { kind: "buffer", name: "utf-16le" },
  "utf-16-le": { kind: "buffer", name: "utf-16le" },
  "utf-16be": { kind: "decoder", label: "utf-16be" },
  "utf-16-be": { kind: "decoder", label: "utf-16be" },
  "utf-16": { kind: "utf-16" },
  utf16: { kind: "utf-16" },
  mac_roman: { kind: "decoder", label: "macintosh" },
  "mac-roman": { kind: "decoder", label: "macintosh" },
  cp932: { kind: "decoder", label: "shift_jis" },
  ms932: { kind: "decoder", label: "shift_jis" },
  sjis: { kind: "decoder", label: "shift_jis" },
};

/** A person's encoding name (Python's codec names too, any case, _ or -) → how to decode, or undefined. */
export function resolveEncoding(name: string): Encoding | undefined {
  const n = name.trim().toLowerCase();
  const dashed = n.replaceAll("_", "-");
  const known = ALIASES[n] ?? ALIASES[dashed];
  if (known) return known;
  const cp = /^(?:cp|windows-?)(\d{3,4})$/.exec(dashed);
  for (const label of [n, dashed, ...(cp ? [`windows-${cp[1]}`, `ibm${cp[1]}`] : [])]) {
    try {
      new TextDecoder(label as never);
      return { kind: "decoder", label };
    } catch {
      // not a label TextDecoder knows
    }
  }
  return undefined;
}

export const ENCODING_HELP = "utf-8 (default), latin-1, ascii, utf-16 (-le, -be), cp1252 and the other Windows code pages, iso-8859-N, shift_jis, euc-jp, gbk, big5, koi8-r and any other name TextDecoder knows, or base64 for raw bytes";

const SIGNATURES: [string, number[]][] = [
  ["PNG image", [0x89, 0x50, 0x4e, 0x47]],
  ["JPEG image", [0xff, 0xd8, 0xff]],
  ["GIF image", [0x47, 0x49, 0x46, 0x38]],
  ["PDF document", [0x25, 0x50, 0x44, 0x46]],
  ["ZIP archive", [0x50, 0x4b, 0x03, 0x04]],
  ["gzip archive", [0x1f, 0x8b]],
  ["ELF executable", [0x7f, 0x45, 0x4c, 0x46]],
  ["Mach-O executable", [0xcf, 0xfa, 0xed, 0xfe]],
  ["Windows executable", [0x4d, 0x5a]],
  ["WebAssembly module", [0x00, 0x61, 0x73, 0x6d]],
  ["SQLite database", [0x53, 0x51, 0x4c, 0x69, 0x74, 0x65, 0x20, 0x66]],
];

const SAMPLE = 8192;

/** A name for the kind of binary data, or undefined when the bytes look like text. */
export function sniffBinary(bytes: Uint8Array): string | undefined {
  for (const [name, magic] of SIGNATURES) {
    if (magic.every((b, i) => bytes[i] === b)) return name;
  }
  const n = Math.min(bytes.length, SAMPLE);
  // UTF-16 text has NULs too; its byte-order mark says it is text.
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) return undefined;
  for (let i = 0; i < n; i++) if (bytes[i] === 0) return "binary data";
  return undefined;
}

/** A byte range cut out of a file may split a UTF-8 character at either edge; drop the pieces. */
export function trimUtf8Edges(bytes: Uint8Array, cutStart: boolean, cutEnd: boolean): Uint8Array {
  let start = 0;
  let end = bytes.length;
  if (cutStart) while (start < end && start < 3 && (bytes[start]! & 0xc0) === 0x80) start++;
  if (cutEnd) {
    // Walk back over continuation bytes to the lead byte; drop the character if it is incomplete.
    let i = end - 1;
    let continuation = 0;
    while (i >= start && continuation < 3 && (bytes[i]! & 0xc0) === 0x80) {
      i--;
      continuation++;
    }
    if (i >= start) {
      const lead = bytes[i]!;
      const need = lead >= 0xf0 ? 3 : lead >= 0xe0 ? 2 : lead >= 0xc0 ? 1 : 0;
      if (need > continuation) end = i;
    }
  }
  return bytes.subarray(start, end);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function firstInvalidUtf8(bytes: Uint8Array): number {
  // Binary search on prefixes would be clever; a linear check is simple and only runs on failure.
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b < 0x80) continue;
    const need = b >= 0xf0 && b < 0xf8 ? 3 : b >= 0xe0 ? 2 : b >= 0xc2 && b < 0xe0 ? 1 : -1;
    if (need < 0) return i;
    for (let k = 1; k <= need; k++) if (((bytes[i + k] ?? 0) & 0xc0) !== 0x80) return i;
    i += need;
  }
  return -1;
}

export type Decoded = { ok: true; text: string } | { ok: false; error: string };

function decodeWith(label: string, bytes: Uint8Array): Decoded {
  try {
    return { ok: true, text: new TextDecoder(label as never, { fatal: true }).decode(bytes) };
  } catch {
    return { ok: false, error: `not valid ${label}; try another encoding, or "base64" for raw bytes.` };
  }
}

export function decodeText(bytes: Uint8Array, encoding: Encoding, cutStart = false, cutEnd = false): Decoded {
  switch (encoding.kind) {
    case "base64":
      return { ok: true, text: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64") };
    case "buffer":
      return { ok: true, text: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString(encoding.name) };
    case "utf-16":
      // As Python's utf-16: the byte-order mark says which; little-endian without one.
      return decodeWith(bytes[0] === 0xfe && bytes[1] === 0xff ? "utf-16be" : "utf-16le", bytes);
    case "decoder":
      return decodeWith(encoding.label, bytes);
    case "utf-8": {
      const body = trimUtf8Edges(bytes, cutStart, cutEnd);
      try {
        // ignoreBOM is false by default: a leading BOM is stripped, as editors do.
        return { ok: true, text: utf8.decode(body) };
      } catch {
        const at = firstInvalidUtf8(body);
        return {
          ok: false,
          error: `not valid UTF-8${at >= 0 ? ` (first bad byte at offset ${at})` : ""}; read it with encoding "latin1" for legacy text or "base64" for raw bytes.`,
        };
      }
    }
  }
}
