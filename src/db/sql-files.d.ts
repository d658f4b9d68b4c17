/** `import text from "../../sql/x.sql" with { type: "text" }` (Bun text import). */
declare module "*.sql" {
  const text: string;
  export default text;
}
