import { defineConfig } from "vitest/config";

// Relative asset paths: the same build is served from S3/CloudFront and from the local stack.
export default defineConfig({
  base: "./",
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false },
  test: { include: ["src/**/*.test.{ts,tsx}"], environment: "node" },
});
