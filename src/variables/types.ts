/**
 * The flat name -> text map that SQL templates, <options> slices and --dump
 * read. Insertion order carries no meaning; --dump sorts by name.
 */
export type Vars = Map<string, string>;
