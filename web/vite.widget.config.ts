// The widget: one self-contained script (IIFE) that a host page loads with one tag; no chunks, no CSS files.
import { defineConfig } from "vite";

export default defineConfig({
  build: {
    outDir: "dist/widget",
    emptyOutDir: true,
    target: "es2020",
    lib: {
      entry: "widget/src/main.ts",
      name: "StewardWidget",
      formats: ["iife"],
      fileName: () => "steward.js",
    },
  },
});
