/**
 * A classic BPF socket filter (SO_ATTACH_FILTER) that drops a share of the
 * DISCOVERs arriving on the DHCP socket inside the kernel, before they are
 * queued. Under a storm the server cannot serve every DISCOVER anyway; each
 * one it reads only to drop costs a wake, a copy and a callback on the
 * serving thread, which is the thread the lookups need (discover-shed.ts
 * decides the share).
 *
 * What the program sees: on a UDP socket the filter runs with the packet's
 * data at the UDP header (8 bytes), the DHCP message after it. It drops only
 * a datagram that is long enough to hold the first option's value, carries
 * the magic cookie, and whose FIRST option is 53 = DISCOVER (every client
 * seen here puts option 53 first, RFC 2131 does not require it); anything
 * else (REQUESTs, short or odd packets, a DISCOVER with option 53 further on)
 * is always passed to the server, which counts and handles it. Among those
 * DISCOVERs it drops when the kernel's random number (SKF_AD_RANDOM) falls
 * under share * 2^32. The array is written little-endian: x64 and arm64,
 * the targets we build.
 */
import { MAGIC_COOKIE, OPTIONS_OFFSET } from "../codec/header.ts";

const UDP_HEADER = 8;

// linux/filter.h, linux/bpf_common.h
const BPF_LD = 0x00;
const BPF_JMP = 0x05;
const BPF_RET = 0x06;
const BPF_W = 0x00;
const BPF_B = 0x10;
const BPF_ABS = 0x20;
const BPF_LEN = 0x80;
const BPF_JEQ = 0x10;
const BPF_JGE = 0x30;
const BPF_K = 0x00;
/** SKF_AD_OFF (-0x1000) + SKF_AD_RANDOM (56), as the u32 the kernel reads */
const SKF_AD_RANDOM = (-0x1000 + 56) >>> 0;

/** one sock_filter: u16 code, u8 jt, u8 jf, u32 k */
type Insn = [code: number, jt: number, jf: number, k: number];

/**
 * The program for dropping `share` (0..1) of first-option DISCOVERs, as the
 * bytes of its sock_filter array (host byte order, 8 bytes per instruction).
 */
export function discoverFilterProgram(share: number): Uint8Array {
  const threshold = Math.min(0xffffffff, Math.max(0, Math.round(share * 2 ** 32)));
  const cookieAt = UDP_HEADER + 236;
  const codeAt = UDP_HEADER + OPTIONS_OFFSET;
  // jt/jf count instructions after the next one; PASS and DROP are the last two
  const insns: Insn[] = [];
  const PASS = 10;
  const to = (target: number) => target - insns.length - 1;
  insns.push([BPF_LD | BPF_W | BPF_LEN, 0, 0, 0]);
  insns.push([BPF_JMP | BPF_JGE | BPF_K, 0, to(PASS), codeAt + 3]);
  insns.push([BPF_LD | BPF_W | BPF_ABS, 0, 0, cookieAt]);
  insns.push([BPF_JMP | BPF_JEQ | BPF_K, 0, to(PASS), MAGIC_COOKIE]);
  insns.push([BPF_LD | BPF_B | BPF_ABS, 0, 0, codeAt]);
  insns.push([BPF_JMP | BPF_JEQ | BPF_K, 0, to(PASS), 53]);
  insns.push([BPF_LD | BPF_B | BPF_ABS, 0, 0, codeAt + 2]);
  insns.push([BPF_JMP | BPF_JEQ | BPF_K, 0, to(PASS), 1]);
  insns.push([BPF_LD | BPF_W | BPF_ABS, 0, 0, SKF_AD_RANDOM]);
  // rand >= threshold passes; the jump from here goes to PASS (jt 0 is the next instruction)
  insns.push([BPF_JMP | BPF_JGE | BPF_K, 0, 1, threshold]);
  insns.push([BPF_RET | BPF_K, 0, 0, 0xffffffff]);
  insns.push([BPF_RET | BPF_K, 0, 0, 0]);
  // 0..7 what the packet is, 8..9 the draw, 10 PASS, 11 drop
  const out = new Uint8Array(insns.length * 8);
  const dv = new DataView(out.buffer);
  insns.forEach(([code, jt, jf, k], i) => {
    dv.setUint16(i * 8, code, true);
    dv.setUint8(i * 8 + 2, jt);
    dv.setUint8(i * 8 + 3, jf);
    dv.setUint32(i * 8 + 4, k >>> 0, true);
  });
  return out;
}
