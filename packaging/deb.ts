/**
 * `npm run package`: dist/pydhcp_<version>_amd64.deb and _arm64.deb from the
 * binaries build.ts made, with dpkg-deb alone (no debhelper on a build host).
 *
 *   /usr/bin/pydhcp                      the self-contained binary
 *   /lib/systemd/system/pydhcp.service   contrib/pydhcp.service, paths for the package
 *   /etc/pydhcp/config.xml               config.example.xml, files under /var/lib/pydhcp (conffile)
 *   /usr/share/doc/pydhcp/               copyright, changelog, service.md, config.md, README.md
 *   postinst/prerm/postrm                packaging/debian: user, modes, nothing enabled
 *
 * `bun packaging/deb.ts amd64` builds one architecture.
 */
import { $ } from "bun";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pkg from "../package.json" with { type: "json" };
import { helpText } from "../src/cli/args.ts";
import { probeHelp } from "../src/cli/probe.ts";

export const ARCHES = { amd64: "dist/pydhcp-linux-x64", arm64: "dist/pydhcp-linux-arm64" } as const;
export type Arch = keyof typeof ARCHES;

const version = pkg.version;
const ROOT = join(import.meta.dir, "..");

/** What must change in a file to fit the package, each a check that it did. */
function edit(text: string, file: string, edits: [string | RegExp, string][]): string {
  for (const [from, to] of edits) {
    const next = text.replace(from, to);
    if (next === text) throw new Error(`${file}: expected to find ${String(from)}; update packaging/deb.ts`);
    text = next;
  }
  return text;
}

/** The unit with the package's paths. */
export function packagedUnit(unit: string): string {
  return edit(unit, "contrib/pydhcp.service", [
    ["ExecStart=/usr/local/bin/pydhcp", "ExecStart=/usr/bin/pydhcp"],
    ["file:///usr/local/share/doc/pydhcp/service.md", "file:///usr/share/doc/pydhcp/service.md"],
    [/# Install: see docs\/service\.md\./, "# Installed by the pydhcp package (docs/service.md)."],
  ]);
}

/** The example config with every file the server writes under /var/lib/pydhcp (ProtectSystem=strict). */
export function packagedConfig(example: string): string {
  return edit(example, "config.example.xml", [
    ["<path>./pydhcp.db</path>", "<path>/var/lib/pydhcp/pydhcp.sqlite</path>"],
    ["<journal>./pydhcp-history.spool</journal>", "<journal>/var/lib/pydhcp/history.journal</journal>"],
    [
      /<config>/,
      `<!--
  Installed by the pydhcp package. Upgrades keep your edits (a conffile).
  Check:  runuser -u pydhcp -- pydhcp --check -c /etc/pydhcp/config.xml
  Start:  systemctl enable --now pydhcp   (nothing starts it by itself)
  Ask:    pydhcp probe --server ADDRESS --mac MAC
-->
<config>`,
    ],
  ]);
}

function control(arch: Arch, installedKb: number): string {
  return `Package: pydhcp
Version: ${version}
Architecture: ${arch}
Maintainer: pydhcp maintainers <maintainers@users.noreply.github.com>
Installed-Size: ${installedKb}
Depends: adduser, libc6 (>= 2.17)
Section: net
Priority: optional
Description: DHCPv4 server whose answers come from SQL
 pydhcp answers DHCP requests from the operator's own SQL queries against
 MySQL/MariaDB or an embedded SQLite database, keyed by the client's MAC
 or by the relay's Option 82 (switch and port). It reads pydhcpdb's
 config.xml and database unchanged.
 .
 The package installs the server, a systemd unit and a commented
 configuration; it enables and starts nothing by itself.
`;
}

/** pydhcp(8): the --help texts, preformatted, so the page cannot drift from the program. */
export function manPage(): string {
  const esc = (t: string) => t.replace(/\\/g, "\\e").replace(/^([.'])/gm, "\\&$1");
  return `.TH PYDHCP 8 "" "pydhcp ${version}" "System Administration"
.SH NAME
pydhcp \\- DHCPv4 server whose answers come from SQL
.SH SYNOPSIS
.nf
${esc(helpText(version))}
.fi
.SH PROBE
.nf
${esc(probeHelp())}
.fi
.SH FILES
/etc/pydhcp/config.xml, /var/lib/pydhcp, /lib/systemd/system/pydhcp.service
.SH SEE ALSO
/usr/share/doc/pydhcp/service.md, /usr/share/doc/pydhcp/config.md
`;
}

function changelog(): string {
  const date = new Date().toUTCString().replace("GMT", "+0000");
  return `pydhcp (${version}) unstable; urgency=medium

  * Package of pydhcp ${version}.

 -- pydhcp maintainers <maintainers@users.noreply.github.com>  ${date}
`;
}

export async function buildDeb(arch: Arch): Promise<string> {
  const bin = join(ROOT, ARCHES[arch]);
  if (!existsSync(bin)) throw new Error(`${ARCHES[arch]} is missing: run npm run build first`);
  const stage = join(ROOT, "dist", `deb-${arch}`);
  rmSync(stage, { recursive: true, force: true });
  const dirs = ["DEBIAN", "usr/bin", "lib/systemd/system", "etc/pydhcp", "usr/share/doc/pydhcp", "usr/share/lintian/overrides", "usr/share/man/man8"];
  for (const d of dirs) mkdirSync(join(stage, d), { recursive: true, mode: 0o755 });

  await $`install -m 0755 ${bin} ${join(stage, "usr/bin/pydhcp")}`;
  const put = (path: string, text: string, mode = 0o644) => {
    writeFileSync(join(stage, path), text);
    chmodSync(join(stage, path), mode);
  };
  const read = (p: string) => readFileSync(join(ROOT, p), "utf8");
  put("lib/systemd/system/pydhcp.service", packagedUnit(read("contrib/pydhcp.service")));
  put("etc/pydhcp/config.xml", packagedConfig(read("config.example.xml")));
  put("usr/share/doc/pydhcp/copyright", read("packaging/debian/copyright"));
  for (const doc of ["README.md", "docs/service.md", "docs/config.md"]) {
    put(`usr/share/doc/pydhcp/${doc.split("/").pop()}`, read(doc));
  }
  put("usr/share/doc/pydhcp/changelog", changelog());
  put("usr/share/man/man8/pydhcp.8", manPage());
  await $`gzip -9n ${join(stage, "usr/share/man/man8/pydhcp.8")}`;
  await $`gzip -9n ${join(stage, "usr/share/doc/pydhcp/changelog")}`;
  put("usr/share/lintian/overrides/pydhcp", read("packaging/debian/lintian-overrides"));

  for (const s of ["postinst", "prerm", "postrm"]) put(`DEBIAN/${s}`, read(`packaging/debian/${s}`), 0o755);
  put("DEBIAN/conffiles", "/etc/pydhcp/config.xml\n");
  // dpkg --verify and debsums check installed files against these (conffiles are listed in conffiles instead)
  const sums = await $`cd ${stage} && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -print0 | sort -z | xargs -0 md5sum`.text();
  put("DEBIAN/md5sums", sums.replace(/ {2}\.\//g, "  "));
  const kb = Number((await $`du -sk --exclude=DEBIAN ${stage}`.text()).split(/\s/)[0]);
  put("DEBIAN/control", control(arch, kb));

  const out = join(ROOT, "dist", `pydhcp_${version}_${arch}.deb`);
  // gzip: 51 MB in ~5 s of CPU for the 110 MB binary; xz -1 gives 44 MB for ~24 s (measured), and
  // CI builds two of these. Every dpkg reads gzip.
  await $`dpkg-deb --root-owner-group -Zgzip -z6 --build ${stage} ${out}`.quiet();
  rmSync(stage, { recursive: true, force: true });
  return out;
}

if (import.meta.main) {
  const want = process.argv.slice(2);
  for (const a of want) {
    if (!(a in ARCHES)) {
      console.error(`packaging/deb.ts: unknown architecture ${a} (${Object.keys(ARCHES).join(", ")})`);
      process.exit(2);
    }
  }
  for (const arch of (want.length ? want : Object.keys(ARCHES)) as Arch[]) {
    const t0 = performance.now();
    const out = await buildDeb(arch);
    const mb = (Bun.file(out).size / 1048576).toFixed(1);
    console.log(`built ${out.slice(ROOT.length + 1)}: ${mb} MiB in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
}
