// Starts the console. A file rather than an inline script: the console's
// Content-Security-Policy allows scripts from this origin only.
import init from "/pkg/weft-console.js";
init({ module_or_path: "/pkg/weft-console_bg.wasm" });
