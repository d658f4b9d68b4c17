/**
 * Run by privileges.test.ts as root: binds a privileged UDP port, drops to the
 * user named in argv, reports what the kernel says about every thread, proves
 * a new privileged bind fails, then echoes one datagram on the old socket.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dropPrivileges } from "../../../src/service/privileges.ts";
import { createLogger } from "../../../src/log/logger.ts";
import { memorySink } from "../../../src/log/sink.ts";

const [user, group] = [process.argv[2] ?? "nobody", process.argv[3] ?? null];

async function bindPrivileged(): Promise<{ sock: { close(): void }; port: number }> {
  const start = 600 + Math.floor(Math.random() * 300);
  for (let port = start; port < 1024; port++) {
    try {
      const sock = await Bun.udpSocket({
        hostname: "127.0.0.1",
        port,
        socket: {
          // Bun's own socket on purpose: this checks Bun's bind across a privilege drop
          data(s, buf, rport, raddr) {
            try {
              s.send(Buffer.concat([Buffer.from("echo:"), buf]), rport, raddr);
            } catch (e) {
              console.error(`echo failed: ${String(e)}`);
            }
            setTimeout(() => process.exit(0), 20);
          },
          error(e: unknown) {
            console.error(`socket error: ${String(e)}`);
          },
        },
      });
      return { sock, port };
    } catch {
      // taken; try the next
    }
  }
  throw new Error("no free privileged port");
}

function idLines(status: string) {
  const get = (k: string) => (new RegExp(`^${k}:\\s*(.*)$`, "m").exec(status)?.[1] ?? "").trim().split(/\s+/);
  return { uid: get("Uid"), gid: get("Gid"), groups: get("Groups"), capEff: get("CapEff")[0], capPrm: get("CapPrm")[0] };
}

const { port } = await bindPrivileged();
const out = memorySink();
const log = createLogger({ level: "info", format: "json", out, err: out });
const result = dropPrivileges(user, group, log);

const threads = readdirSync("/proc/self/task").map((t) => idLines(readFileSync(`/proc/self/task/${t}/status`, "utf8")));
let secondBind = "bound";
try {
  const s2 = await Bun.udpSocket({ hostname: "127.0.0.1", port: port === 1023 ? 1022 : port + 1 });
  s2.close();
} catch (e) {
  secondBind = (e as { code?: string }).code ?? String(e);
}

// Once unprivileged: the same target is a no-op, going back to root is refused.
const again = dropPrivileges(user, group, log);
const back = dropPrivileges("root", null, log);

console.log(
  JSON.stringify({
    port,
    result,
    again,
    back,
    self: idLines(readFileSync("/proc/self/status", "utf8")),
    threads,
    secondBind,
    log: out.lines(),
  }),
);
setTimeout(() => process.exit(3), 10_000);
