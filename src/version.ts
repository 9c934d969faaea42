// Injected by build.ts with `define`; running from source falls back to package.json.
import pkg from "../package.json" with { type: "json" };

declare const __TFO_VERSION__: string | undefined;
declare const __TFO_COMMIT__: string | undefined;
declare const __TFO_TARGET__: string | undefined;

export const VERSION: string = typeof __TFO_VERSION__ === "string" ? __TFO_VERSION__ : pkg.version;
export const COMMIT: string = typeof __TFO_COMMIT__ === "string" ? __TFO_COMMIT__ : "source";
export const TARGET: string = typeof __TFO_TARGET__ === "string" ? __TFO_TARGET__ : `bun-${process.platform}-${process.arch}`;
