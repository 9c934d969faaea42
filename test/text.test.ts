import { describe, expect, test } from "bun:test";
import { decodeText, resolveEncoding, sniffBinary, trimUtf8Edges } from "../src/tools/text.ts";

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
  const enc = (name: string) => resolveEncoding(name)!;
  test("utf-8 with a BOM, base64, latin1", () => {
    expect(decodeText(bytes(0xef, 0xbb, 0xbf, 0x68, 0x69), enc("utf-8"))).toEqual({ ok: true, text: "hi" });
    expect(decodeText(bytes(0, 1, 2), enc("base64"))).toEqual({ ok: true, text: "AAEC" });
    expect(decodeText(bytes(0xe9), enc("latin1"))).toEqual({ ok: true, text: "é" });
  });
  // The Python server took any codec name; people pass those.
  test.each([
    ["latin-1", [0x63, 0x61, 0x66, 0xe9], "café"],
    ["ISO-8859-1", [0x80], "\u0080"],
    ["cp1252", [0x80], "€"],
    ["windows-1252", [0x93, 0x94], "\u201c\u201d"],
    ["utf_16_le", [0x68, 0, 0x69, 0], "hi"],
    ["utf-16", [0xfe, 0xff, 0, 0x68], "h"],
    ["utf-16", [0xff, 0xfe, 0x68, 0], "h"],
    ["UTF-16-BE", [0, 0x68], "h"],
    ["shift_jis", [0x82, 0xa0], "あ"],
    ["euc_jp", [0xa4, 0xa2], "あ"],
    ["koi8_r", [0xc1], "а"],
    ["mac_roman", [0x8e], "é"],
    ["ascii", [0x68], "h"],
  ])("%s", (name, input, text) => {
    expect(decodeText(bytes(...input), enc(name))).toEqual({ ok: true, text });
  });
  test("unknown names are refused up front; bytes a codec cannot read are an error, not mangled", () => {
    expect(resolveEncoding("klingon")).toBeUndefined();
    expect(decodeText(bytes(0x82), enc("shift_jis"))).toEqual({ ok: false, error: 'not valid shift_jis; try another encoding, or "base64" for raw bytes.' });
  });
  test("invalid UTF-8 is reported with its offset and a way out, not mangled", () => {
    const r = decodeText(bytes(0x61, 0x62, 0xff, 0x63), enc("utf-8"));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toBe('not valid UTF-8 (first bad byte at offset 2); read it with encoding "latin1" for legacy text or "base64" for raw bytes.');
  });
});
