/**
 * A message's options (code -> value bytes) as two small arrays, with the
 * Map interface every reader already uses.
 *
 * Every decoded request and every built reply has one. A JavaScriptCore Map
 * past four entries allocates about 1.1 KB (two growths of its table); a
 * DHCP message has 6-12 options, so two Maps were about a quarter of the
 * bytes allocated per exchange (bench/alloc.ts), and what makes the
 * collector run. A linear scan of a dozen small integers is as fast as a
 * hash lookup.
 *
 * Map semantics kept: insertion order, set() of a present code replaces its
 * value in place, delete() removes. Unlike a Map, deleting while iterating
 * may skip the entry after the deleted one; nothing does that.
 */
export class OptionMap implements Map<number, Uint8Array> {
  // private fields: JSON.stringify shows {} as it does for a Map
  #codes: number[] = [];
  #values: Uint8Array[] = [];

  constructor(entries?: Iterable<readonly [number, Uint8Array]>) {
    if (entries) for (const [k, v] of entries) this.set(k, v);
  }

  get size(): number {
    return this.#codes.length;
  }

  get(code: number): Uint8Array | undefined {
    const codes = this.#codes;
    for (let i = 0; i < codes.length; i++) if (codes[i] === code) return this.#values[i];
    return undefined;
  }

  has(code: number): boolean {
    return this.#codes.indexOf(code) >= 0;
  }

  set(code: number, value: Uint8Array): this {
    const i = this.#codes.indexOf(code);
    if (i < 0) {
      this.#codes.push(code);
      this.#values.push(value);
    } else {
      this.#values[i] = value;
    }
    return this;
  }

  delete(code: number): boolean {
    const i = this.#codes.indexOf(code);
    if (i < 0) return false;
    this.#codes.splice(i, 1);
    this.#values.splice(i, 1);
    return true;
  }

  /** the arrays themselves, for optionLists() */
  lists(): { codes: readonly number[]; values: readonly Uint8Array[] } {
    return { codes: this.#codes, values: this.#values };
  }

  getOrInsert(code: number, value: Uint8Array): Uint8Array {
    const v = this.get(code);
    if (v !== undefined) return v;
    this.set(code, value);
    return value;
  }

  getOrInsertComputed(code: number, make: (code: number) => Uint8Array): Uint8Array {
    const v = this.get(code);
    if (v !== undefined) return v;
    const made = make(code);
    this.set(code, made);
    return made;
  }

  clear(): void {
    this.#codes.length = 0;
    this.#values.length = 0;
  }

  forEach(fn: (value: Uint8Array, code: number, map: Map<number, Uint8Array>) => void, self?: unknown): void {
    const codes = this.#codes;
    for (let i = 0; i < codes.length; i++) fn.call(self, this.#values[i]!, codes[i]!, this);
  }

  *entries(): MapIterator<[number, Uint8Array]> {
    const codes = this.#codes;
    for (let i = 0; i < codes.length; i++) yield [codes[i]!, this.#values[i]!];
  }

  // the arrays' own iterators: a for-of over them allocates nothing once compiled, unlike a generator
  keys(): MapIterator<number> {
    return this.#codes.values();
  }

  values(): MapIterator<Uint8Array> {
    return this.#values.values();
  }

  [Symbol.iterator](): MapIterator<[number, Uint8Array]> {
    return this.entries();
  }

  get [Symbol.toStringTag](): string {
    return "OptionMap";
  }
}

/**
 * A message's codes and values as two parallel lists, in order: an
 * OptionMap's own arrays (not to be changed), a Map's copied. The encoder
 * walks these instead of keys() + get(), which is a scan per code here.
 */
export function optionLists(m: ReadonlyMap<number, Uint8Array>): { codes: readonly number[]; values: readonly Uint8Array[] } {
  if (m instanceof OptionMap) return m.lists();
  return { codes: [...m.keys()], values: [...m.values()] };
}

/** A Map or an OptionMap: what a message's options may be (dump, --explain). */
export function isOptionMap(v: unknown): v is Map<number, Uint8Array> {
  return v instanceof Map || v instanceof OptionMap;
}
