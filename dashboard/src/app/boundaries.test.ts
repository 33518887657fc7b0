/**
 * One direction for imports: app/ may import anything; a feature (src/features/<name>) imports shared code
 * and itself, never another feature or app/; shared code (components, hooks, lib) never imports a feature.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = resolve(__dirname, "..");

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : /\.(ts|tsx)$/.test(e.name) ? [join(dir, e.name)] : []));
}

/** "app", "feature:<name>" or "shared" for a path under src. */
function area(path: string): string {
  const parts = relative(SRC, path).split(sep);
  if (parts[0] === "app" || parts[0] === "main.tsx") return "app"; // the entry point mounts the app
  if (parts[0] === "features") return `feature:${parts[1]}`;
  return "shared";
}

function imports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)["']([^"']+)["']/g)].map((m) => m[1]).filter((s) => s.startsWith("."));
}

function breaches(): string[] {
  const out: string[] = [];
  for (const file of files(SRC)) {
    const from = area(file);
    if (from === "app") continue;
    for (const spec of imports(file)) {
      const to = area(resolve(dirname(file), spec));
      if (to === from || to === "shared") continue;
      out.push(`${relative(SRC, file)} (${from}) imports ${spec} (${to})`);
    }
  }
  return out;
}

describe("import boundaries", () => {
  it("features import only themselves and shared code; shared code imports no feature", () => {
    expect(breaches()).toEqual([]);
  });

  it("sees the imports it checks", () => {
    expect(imports(join(SRC, "features", "webhooks", "WebhooksPage.tsx"))).toContain("./rules");
    expect(area(join(SRC, "lib", "api", "client.ts"))).toBe("shared");
  });
});
