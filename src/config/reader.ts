/**
 * Typed reads of one XML element's children, collecting ConfigError values
 * (never throwing) and reporting unknown and repeated tags by XML path.
 */

import type { ConfigError } from "./types.ts";
import type { XmlNode } from "./xml.ts";
import { parseIPv4 } from "../codec/ip.ts";

const isIpv4 = (text: string): boolean => parseIPv4(text) !== null;

export class Section {
  private readonly known = new Set<string>();
  private readonly byName = new Map<string, XmlNode[]>();

  constructor(
    readonly node: XmlNode,
    readonly errors: ConfigError[],
    /** tags that may repeat (e.g. "option" in <options>) */
    private readonly repeatable: readonly string[] = [],
  ) {
    for (const child of node.children) {
      const list = this.byName.get(child.name);
      if (list) list.push(child);
      else this.byName.set(child.name, [child]);
    }
  }

  error(path: string, message: string): void {
    this.errors.push({ kind: "config", path, message });
  }

  pathOf(name: string): string {
    return `${this.node.path}/${name}`;
  }

  /** The child element, marking the tag as known; reports repeats. */
  child(name: string): XmlNode | undefined {
    this.known.add(name);
    const list = this.byName.get(name);
    if (!list) return undefined;
    if (list.length > 1 && !this.repeatable.includes(name)) {
      this.error(this.pathOf(name), `appears ${list.length} times, expected once`);
    }
    return list[0];
  }

  all(name: string): XmlNode[] {
    this.known.add(name);
    return this.byName.get(name) ?? [];
  }

  /** Text of a child; undefined (and an error when required) when absent. */
  text(name: string, required: boolean, why = ""): string | undefined {
    const c = this.child(name);
    if (!c) {
      if (required) this.error(this.pathOf(name), `missing${why ? ` (${why})` : ""}`);
      return undefined;
    }
    if (c.children.length > 0) this.error(c.path, `expected text, found element <${c.children[0]!.name}>`);
    return c.text;
  }

  /** A non-empty text value. */
  string(name: string, required: boolean, fallback: string): string {
    const t = this.text(name, required);
    if (t === undefined) return fallback;
    if (t === "" && required) this.error(this.pathOf(name), "is empty");
    return t === "" ? fallback : t;
  }

  ipv4(name: string, required: boolean, fallback: string): string {
    const t = this.text(name, required);
    if (t === undefined) return fallback;
    if (!isIpv4(t)) {
      this.error(this.pathOf(name), `"${t}" is not an IPv4 address`);
      return fallback;
    }
    return t;
  }

  /** A decimal integer in [min, max]. */
  int(name: string, required: boolean, fallback: number, min: number, max: number, unit = ""): number {
    const t = this.text(name, required);
    if (t === undefined) return fallback;
    if (!/^[0-9]{1,10}$/.test(t)) {
      this.error(this.pathOf(name), `"${t}" is not a whole number${unit ? ` of ${unit}` : ""}`);
      return fallback;
    }
    const n = Number(t);
    if (n < min || n > max) {
      this.error(this.pathOf(name), `${n} is out of range ${min}..${max}`);
      return fallback;
    }
    return n;
  }

  /** One of a fixed set of words. */
  choice<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const t = this.text(name, false);
    if (t === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(t)) {
      this.error(this.pathOf(name), `"${t}" is not one of ${allowed.join(", ")}`);
      return fallback;
    }
    return t as T;
  }

  /** Reports every child tag nobody asked for. Call after all reads. */
  finish(): void {
    for (const child of this.node.children) {
      if (!this.known.has(child.name)) this.error(child.path, "unknown tag");
    }
    if (this.node.text !== "" && this.node.children.length > 0) {
      this.error(this.node.path, `unexpected text "${this.node.text.slice(0, 40)}"`);
    }
  }
}

/** A comma/space separated list of IPv4 addresses; errors name the bad item. */
export function ipv4List(section: Section, name: string, text: string | undefined): string[] {
  if (text === undefined || text === "") return [];
  const items = text.split(/[\s,]+/).filter((s) => s !== "");
  const bad = items.find((s) => !isIpv4(s));
  if (bad !== undefined) {
    section.error(section.pathOf(name), `"${bad}" is not an IPv4 address`);
    return [];
  }
  return items;
}
