/**
 * Nobody takes the DHCP port from a running server: a second pydhcp on the
 * same address and port refuses to start (exit 2, a clear message);
 * `pydhcp --dump -c FILE` reads the running server's exchange stream and the
 * server answers every probe meanwhile; without a <metrics> listener the
 * dump refuses rather than share the port; with no server it captures.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MessageType } from "../../src/codec/message.ts";
import { buildRequest, testClient, type TestClient } from "../support/client.ts";
import { pydhcpCommand, startServer, type RunningServer } from "../support/server.ts";
import { configXml, freeTcpPort, freeUdpPort, makeSqlite, messageType, nextXid } from "./helpers.ts";

const MAC = "020000bb0001";
let dir: string;
let c: TestClient;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), `pdsvc-port-${process.pid}-`));
  makeSqlite(join(dir, "t.db"), [[MAC, "198.18.6.10"]]);
  c = await testClient();
});
afterAll(() => {
  c?.close();
  rmSync(dir, { recursive: true, force: true });
});

function spawnPydhcp(args: string[]) {
  const p = Bun.spawn([...pydhcpCommand(), ...args], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  let out = "";
  let err = "";
  const pump = async (s: ReadableStream<Uint8Array>, add: (t: string) => void) => {
    const d = new TextDecoder();
    for await (const chunk of s) add(d.decode(chunk, { stream: true }));
  };
  void pump(p.stdout as ReadableStream<Uint8Array>, (t) => (out += t));
  void pump(p.stderr as ReadableStream<Uint8Array>, (t) => (err += t));
  return { p, out: () => out, err: () => err };
}

async function until(f: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (f()) return true;
    await Bun.sleep(25);
  }
  return f();
}

/** DISCOVERs answered out of n. */
async function probes(port: number, n: number): Promise<number> {
  let answered = 0;
  for (let i = 0; i < n; i++) {
    const xid = nextXid();
    c.send(buildRequest({ type: MessageType.DISCOVER, mac: MAC, xid }), port);
    if (messageType(await c.reply(xid, 1000)) === MessageType.OFFER) answered++;
  }
  return answered;
}

function config(port: number, metricsPort?: number): string {
  return configXml({ port, clientPort: c.port, database: `<database><sqlite><path>${join(dir, "t.db")}</path></sqlite></database>`, rateLimit: false, ...(metricsPort ? { metricsPort } : {}) });
}

describe("with a pydhcp serving", () => {
  let server: RunningServer;
  let port: number;
  let cfgPath: string;
  beforeAll(async () => {
    port = await freeUdpPort();
    const mport = freeTcpPort();
    const text = config(port, mport);
    server = await startServer({ config: text, ready: /http listening/ });
    cfgPath = join(dir, "serving.xml");
    writeFileSync(cfgPath, text);
  });
  afterAll(async () => {
    await server?.close();
  });

  test("a second pydhcp on the same address and port exits 2 and says why", async () => {
    const second = config(port, freeTcpPort());
    const path = join(dir, "second.xml");
    writeFileSync(path, second);
    const s = spawnPydhcp(["-c", path]);
    const code = await s.p.exited;
    expect(code).toBe(2);
    expect(s.err()).toContain(`another process already has UDP 127.0.0.1:${port}`);
    expect(await probes(port, 3)).toBe(3);
  });

  test("--dump -c reads the server's exchanges; the server answers 5 of 5 probes meanwhile", async () => {
    const d = spawnPydhcp(["--dump", "-c", cfgPath]);
    try {
      expect(await until(() => d.err().includes("reading the exchanges of the pydhcp serving here"), 10_000)).toBe(true);
      expect(await probes(port, 5)).toBe(5);
      expect(await until(() => (d.out().match(/=> the server answered: OFFER 198\.18\.6\.10 by offer_1/g) ?? []).length >= 5, 5000)).toBe(true);
      expect(d.out()).toContain("DHCPDISCOVER from 127.0.0.1:");
      expect(d.out()).toMatch(/\n  mac +=  ?02:00:00:bb:00:01\n/);
    } finally {
      d.p.kill("SIGINT");
      expect(await d.p.exited).toBe(0);
    }
  }, 20_000);

  test("--dump with a config lacking <metrics> refuses to share the port; the server keeps answering", async () => {
    const path = join(dir, "nometrics.xml");
    writeFileSync(path, config(port));
    const d = spawnPydhcp(["--dump", "-c", path]);
    const code = await Promise.race([d.p.exited, Bun.sleep(10_000).then(() => -1)]);
    if (code === -1) d.p.kill("SIGKILL");
    expect(code).toBe(1);
    expect(d.err()).toContain(`UDP 127.0.0.1:${port} is taken by another process`);
    expect(await probes(port, 5)).toBe(5);
  });
});

test("with no server, --dump captures and answers nothing", async () => {
  const port = await freeUdpPort();
  const path = join(dir, "alone.xml");
  writeFileSync(path, config(port));
  const d = spawnPydhcp(["--dump", "-c", path]);
  try {
    expect(await until(() => d.err().includes(`dumping packets on 127.0.0.1:${port}`), 10_000)).toBe(true);
    expect(await probes(port, 2)).toBe(0);
    expect(await until(() => (d.out().match(/mac_hex +=  ?020000bb0001/g) ?? []).length === 2, 3000)).toBe(true);
  } finally {
    d.p.kill("SIGINT");
    await d.p.exited;
  }
}, 20_000);
