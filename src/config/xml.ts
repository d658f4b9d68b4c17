/**
 * XML text -> a small element tree that keeps order, repeats and each
 * element's XML path (`config/query/offer_1`), so every config error can
 * name where it is. Attributes are kept but the config schema uses none.
 */

import { XMLParser, XMLValidator } from "fast-xml-parser";

export interface XmlNode {
  name: string;
  /** slash-separated element names from the root, e.g. "config/dhcpserver/host" */
  path: string;
  /** the element's own text (CDATA included), trimmed; "" when none */
  text: string;
  children: XmlNode[];
  attributes: Record<string, string>;
}

export type XmlResult = { ok: true; root: XmlNode } | { ok: false; line: number; col: number; message: string };

const parser = new XMLParser({
  preserveOrder: true,
  parseTagValue: false,
  parseAttributeValue: false,
  ignoreAttributes: false,
  attributeNamePrefix: "",
  trimValues: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  processEntities: true,
  htmlEntities: false,
});

type Raw = Record<string, unknown>;

function build(name: string, body: unknown, attrs: unknown, parent: string): XmlNode {
  const path = parent ? `${parent}/${name}` : name;
  const node: XmlNode = { name, path, text: "", children: [], attributes: {} };
  if (attrs && typeof attrs === "object") {
    for (const [k, v] of Object.entries(attrs as Raw)) node.attributes[k] = String(v);
  }
  const texts: string[] = [];
  for (const item of Array.isArray(body) ? (body as Raw[]) : []) {
    for (const [key, value] of Object.entries(item)) {
      if (key === ":@") continue;
      if (key === "#text") texts.push(String(value));
      else node.children.push(build(key, value, item[":@"], path));
    }
  }
  node.text = texts.join("").trim();
  return node;
}

/** Line and column (1-based) of a character offset. */
function position(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let start = 0;
  for (let i = 0; i < offset; i++) if (text.charCodeAt(i) === 10) (line++, (start = i + 1));
  return { line, col: offset - start + 1 };
}

/** Deeper than any config element (config/query/offer_1 is 3); bounds the tree walk too. */
export const MAX_DEPTH = 32;

/**
 * Parses a whole document; exactly one root element. Never throws: a DTD
 * (the config needs none, and entities are how XXE, parameter-entity and
 * entity-expansion attacks arrive), elements nested past MAX_DEPTH, or
 * anything the parser refuses come back as an error with line and column.
 */
export function parseXml(text: string): XmlResult {
  if (text.trim() === "") return { ok: false, line: 1, col: 1, message: "the file is empty; expected <config> ... </config>" };
  const doctype = /<!DOCTYPE/i.exec(text);
  if (doctype) {
    return { ok: false, ...position(text, doctype.index), message: "<!DOCTYPE> is not allowed: a config has no DTD and no entities (external and parameter entities are refused)" };
  }
  const valid = XMLValidator.validate(text);
  // the validator leaves col undefined for some errors
  if (valid !== true) return { ok: false, line: valid.err.line, col: valid.err.col ?? 1, message: valid.err.msg };
  const deep = tooDeep(text);
  if (deep !== null) return { ok: false, ...position(text, deep), message: `elements nested more than ${MAX_DEPTH} deep` };
  let items: Raw[];
  try {
    items = parser.parse(text) as Raw[];
  } catch (e) {
    return { ok: false, line: 1, col: 1, message: e instanceof Error ? e.message : String(e) };
  }
  const roots: XmlNode[] = [];
  for (const item of items) {
    for (const [key, value] of Object.entries(item)) {
      if (key === ":@" || key === "#text") continue;
      roots.push(build(key, value, item[":@"], ""));
    }
  }
  if (roots.length !== 1) return { ok: false, line: 1, col: 1, message: `expected one root element, found ${roots.length}` };
  return { ok: true, root: roots[0]! };
}

/** Offset of the first start tag deeper than MAX_DEPTH, or null (the text is already well-formed). */
function tooDeep(text: string): number | null {
  let depth = 0;
  const tag = /<(\/?)([A-Za-z_][^\s/>]*)[^>]*?(\/?)>|<!\[CDATA\[[\s\S]*?\]\]>|<!--[\s\S]*?-->|<\?[\s\S]*?\?>/g;
  for (let m = tag.exec(text); m !== null; m = tag.exec(text)) {
    if (m[2] === undefined) continue;
    if (m[1]) depth--;
    else if (!m[3]) {
      if (++depth > MAX_DEPTH) return m.index;
    }
  }
  return null;
}

/**
 * The element in fast-xml-parser's default object shape (attributes as
 * "@_name", text alone as a string or as "#text" beside attributes, repeated
 * children as arrays, an empty element as ""), for parsers written against it.
 */
export function toPlainObject(node: XmlNode): unknown {
  const attrs = Object.entries(node.attributes);
  if (node.children.length === 0 && attrs.length === 0) return node.text;
  const out: Record<string, unknown> = {};
  for (const [k, v] of attrs) out[`@_${k}`] = v;
  if (node.text !== "") out["#text"] = node.text;
  for (const c of node.children) {
    const v = toPlainObject(c);
    const prev = out[c.name];
    if (prev === undefined) out[c.name] = v;
    else if (Array.isArray(prev)) prev.push(v);
    else out[c.name] = [prev, v];
  }
  return out;
}
