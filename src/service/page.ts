/**
 * The help-desk page at /: one HTML file with its CSS and script inline,
 * bundled into the binary as text (no CDN, no build step). Its script puts
 * every value on the page through textContent, never as HTML.
 */
import pageFile from "./page.html" with { type: "text" };
import type { HttpResponse } from "./http1.ts";

// bun-types call every .html import an HTMLBundle; with type "text" it is the text
const html = pageFile as unknown as string;

export function helpDeskPage(): HttpResponse {
  return {
    status: 200,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      "x-frame-options": "DENY",
      "referrer-policy": "no-referrer",
      "content-security-policy": "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'none'; connect-src 'self'; frame-ancestors 'none'",
    },
    body: html,
  };
}
