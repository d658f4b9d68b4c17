/**
 * Domain search list (RFC 3397): DNS names in RFC 1035 3.1 wire format,
 * with compression pointers (RFC 1035 4.1.4) relative to the start of the
 * (concatenated) option value. "example.com" = 07 "example" 03 "com" 00.
 */

const MAX_NAME = 255;

/** Names of an option 119 value, or why it is malformed. */
export function decodeDomains(b: Uint8Array): string[] | string {
  const out: string[] = [];
  let i = 0;
  while (i < b.length) {
    const labels: string[] = [];
    let p = i;
    let next = -1;
    let total = 0;
    // a pointer must go strictly backwards, so decoding always terminates
    let limit = i;
    for (;;) {
      if (p >= b.length) return `name at byte ${i} runs past the end`;
      const len = b[p]!;
      if (len === 0) {
        if (next < 0) next = p + 1;
        break;
      }
      if ((len & 0xc0) === 0xc0) {
        if (p + 1 >= b.length) return `pointer at byte ${p} is cut short`;
        const target = ((len & 0x3f) << 8) | b[p + 1]!;
        if (target >= limit) return `pointer at byte ${p} to ${target} does not point backwards`;
        if (next < 0) next = p + 2;
        limit = target;
        p = target;
        continue;
      }
      if (len > 63) return `label at byte ${p} has length ${len}, more than 63`;
      if (p + 1 + len > b.length) return `label at byte ${p} runs past the end`;
      total += len + 1;
      if (total > MAX_NAME) return `name at byte ${i} is longer than 255 bytes`;
      labels.push(String.fromCharCode(...b.subarray(p + 1, p + 1 + len)));
      p += 1 + len;
    }
    out.push(labels.join("."));
    i = next;
  }
  return out;
}

/** Wire bytes of names, without compression; or why a name cannot be encoded. */
export function encodeDomains(names: string[]): Uint8Array | string {
  if (names.length === 0) return "no domain";
  const bytes: number[] = [];
  for (const name of names) {
    const trimmed = name.endsWith(".") ? name.slice(0, -1) : name;
    let total = 1;
    for (const label of trimmed === "" ? [] : trimmed.split(".")) {
      if (label.length === 0 || label.length > 63 || !/^[\x21-\x7e]+$/.test(label)) return `"${name}" is not a domain name`;
      total += label.length + 1;
      bytes.push(label.length);
      for (let k = 0; k < label.length; k++) bytes.push(label.charCodeAt(k));
    }
    if (total > MAX_NAME) return `"${name}" is longer than 255 bytes`;
    bytes.push(0);
  }
  return Uint8Array.from(bytes);
}
