import { describe, expect, test } from "bun:test";
import { decodeText, sniffBinary, trimUtf8Edges } from "../src/tools/text.ts";

const bytes = (...b: number[]) => new Uint8Array(b);

describe("sniffBinary", () => {
  test.each([
    ["png", bytes(0x89, 0x50, 0x4e, 0x47, 0x0d), "PNG image"],
    ["elf", bytes(0x7f, 0x45, 0x4c, 0x46, 2), "ELF executable"],
    ["nul", new TextEncoder().encode("abc\0def"), "binary data"],
    ["text", new TextEncoder().encode("hello\nworld"), undefined],
    ["utf16 bom", bytes(0xff, 0xfe, 0x68, 0x00), undefined],
    ["empty", bytes(), undefined],
  ])("%s", (_n, input, want) => {
    expect(sniffBinary(input)).toBe(want as string | undefined);
  });
});

describe("trimUtf8Edges", () => {
  const euro = [0xe2, 0x82, 0xac]; // €
  test("drops a character cut at the end", () => {
    expect([...trimUtf8Edges(bytes(0x61, ...euro.slice(0, 2)), false, true)]).toEqual([0x61]);
  });
  test("keeps a whole character at the end", () => {
    expect([...trimUtf8Edges(bytes(0x61, ...euro), false, true)]).toEqual([0x61, ...euro]);
  });
  test("drops continuation bytes at the start", () => {
    expect([...trimUtf8Edges(bytes(...euro.slice(1), 0x62), true, false)]).toEqual([0x62]);
  });
  test("untouched when not cut", () => {
    expect([...trimUtf8Edges(bytes(...euro.slice(1)), false, false)]).toEqual(euro.slice(1));
  });
});

describe("decodeText", () => {
  test("utf-8 with a BOM, base64, latin1", () => {
    expect(decodeText(bytes(0xef, 0xbb, 0xbf, 0x68, 0x69), "utf-8")).toEqual({ ok: true, text: "hi" });
    expect(decodeText(bytes(0, 1, 2), "base64")).toEqual({ ok: true, text: "AAEC" });
    expect(decodeText(bytes(0xe9), "latin1")).toEqual({ ok: true, text: "é" });
  });
  test("invalid UTF-8 is reported with its offset and a way out, not mangled", () => {
    const r = decodeText(bytes(0x61, 0x62, 0xff, 0x63), "utf-8");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toBe('not valid UTF-8 (first bad byte at offset 2); read it with encoding "latin1" for legacy text or "base64" for raw bytes.');
  });
});
