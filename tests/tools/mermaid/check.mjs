import { JSDOM } from "jsdom";
const dom = new JSDOM("<!DOCTYPE html><body></body>");
globalThis.window = dom.window; globalThis.document = dom.window.document;
const { default: mermaid } = await import("mermaid");
import fs from "fs";
const text = fs.readFileSync(0, "utf8");
try { await mermaid.parse(text); console.log("ok"); } catch (e) { console.error(String(e.message || e).split("\n").slice(0,3).join(" ")); process.exit(1); }
