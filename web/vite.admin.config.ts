// The admin console: a single-page app served by FastAPI under /admin.
import { defineConfig } from "vite";

export default defineConfig({
  root: "admin",
  base: "/admin/",
  build: {
    outDir: "../dist/admin",
    emptyOutDir: true,
    target: "es2020",
  },
});
