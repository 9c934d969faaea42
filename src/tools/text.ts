// Pure helpers on bytes: is it binary, and how to turn it into text without mangling it.

export const ENCODINGS = ["utf-8", "utf8", "utf-16le", "latin1", "ascii", "base64"] as const;
export type Encoding = (typeof ENCODINGS)[number];

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

export function decodeText(bytes: Uint8Array, encoding: Encoding, cutStart = false, cutEnd = false): Decoded {
  switch (encoding) {
    case "base64":
      return { ok: true, text: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64") };
    case "latin1":
    case "ascii":
    case "utf-16le":
      return { ok: true, text: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString(encoding) };
    default: {
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
