// Minimal, reproducible .tar.gz and .zip writers: fixed timestamps, owners and order, so
// the same inputs always give the same bytes (and the same SHA256SUMS).
export type ArchiveFile = { name: string; data: Uint8Array<ArrayBuffer>; mode: number };

const encoder = new TextEncoder();

function octal(value: number, length: number): string {
  return `${value.toString(8).padStart(length - 1, "0")}\0`;
}

function tarHeader(file: ArchiveFile, mtime: number): Uint8Array {
  const header = new Uint8Array(512);
  const put = (text: string, offset: number) => header.set(encoder.encode(text), offset);
  if (encoder.encode(file.name).length > 100) throw new Error(`archive entry name too long: ${file.name}`);
  put(file.name, 0);
  put(octal(file.mode & 0o7777, 8), 100);
  put(octal(0, 8), 108); // uid
  put(octal(0, 8), 116); // gid
  put(octal(file.data.length, 12), 124);
  put(octal(mtime, 12), 136);
  put("        ", 148); // checksum is computed with its own field as spaces
  put("0", 156); // regular file
  put("ustar\u000000", 257);
  put("root", 265);
  put("root", 297);
  let sum = 0;
  for (const byte of header) sum += byte;
  put(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
  return header;
}

export function tarGz(files: ArchiveFile[], mtime: number): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const file of [...files].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    parts.push(tarHeader(file, mtime), file.data);
    const pad = (512 - (file.data.length % 512)) % 512;
    if (pad) parts.push(new Uint8Array(pad));
  }
  parts.push(new Uint8Array(1024));
  return Bun.gzipSync(Buffer.concat(parts), { level: 9 });
}

function dosDateTime(epochSeconds: number): { time: number; date: number } {
  const d = new Date(Math.max(epochSeconds, 315532800) * 1000); // zip dates start in 1980
  return {
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | Math.floor(d.getUTCSeconds() / 2),
    date: ((d.getUTCFullYear() - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
  };
}

export function zip(files: ArchiveFile[], mtime: number): Uint8Array {
  const { time, date } = dosDateTime(mtime);
  const local: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const file of [...files].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const name = encoder.encode(file.name);
    const compressed = Bun.deflateSync(file.data, { level: 9 });
    const crc = Bun.hash.crc32(file.data);
    const head = Buffer.alloc(30);
    head.writeUInt32LE(0x04034b50, 0);
    head.writeUInt16LE(20, 4); // version needed
    head.writeUInt16LE(0x0800, 6); // UTF-8 names
    head.writeUInt16LE(8, 8); // deflate
    head.writeUInt16LE(time, 10);
    head.writeUInt16LE(date, 12);
    head.writeUInt32LE(crc, 14);
    head.writeUInt32LE(compressed.length, 18);
    head.writeUInt32LE(file.data.length, 22);
    head.writeUInt16LE(name.length, 26);
    local.push(head, name, compressed);
    const entry = Buffer.alloc(46);
    entry.writeUInt32LE(0x02014b50, 0);
    entry.writeUInt16LE((3 << 8) | 20, 4); // made by Unix, so the mode below counts
    entry.writeUInt16LE(20, 6);
    entry.writeUInt16LE(0x0800, 8);
    entry.writeUInt16LE(8, 10);
    entry.writeUInt16LE(time, 12);
    entry.writeUInt16LE(date, 14);
    entry.writeUInt32LE(crc, 16);
    entry.writeUInt32LE(compressed.length, 20);
    entry.writeUInt32LE(file.data.length, 24);
    entry.writeUInt16LE(name.length, 28);
    entry.writeUInt32LE(((0o100000 | (file.mode & 0o7777)) << 16) >>> 0, 38);
    entry.writeUInt32LE(offset, 42);
    central.push(entry, name);
    offset += head.length + name.length + compressed.length;
  }
  const centralSize = central.reduce((n, part) => n + part.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...local, ...central, end]);
}

export function sha256(data: Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(data).digest("hex");
}

/** The SHA256SUMS file: `<hex>  <name>` lines, sorted by name, as sha256sum -c reads it. */
export function sha256sums(entries: { name: string; sha256: string }[]): string {
  return `${[...entries]
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .map((e) => `${e.sha256}  ${e.name}`)
    .join("\n")}\n`;
}
