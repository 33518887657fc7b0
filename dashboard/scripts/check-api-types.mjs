// Fails when src/lib/api/schema.d.ts is not what openapi-typescript makes from docs/openapi.json now.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const committed = "src/lib/api/schema.d.ts";
const dir = mkdtempSync(join(tmpdir(), "api-types-"));
const fresh = join(dir, "schema.d.ts");
try {
  execFileSync("npx", ["--no-install", "openapi-typescript", "../docs/openapi.json", "--default-non-nullable", "false", "-o", fresh], { stdio: ["ignore", "ignore", "inherit"] });
  if (readFileSync(fresh, "utf8") !== readFileSync(committed, "utf8")) {
    try {
      execFileSync("diff", ["-u", committed, fresh], { stdio: "inherit" });
    } catch {
      /* diff exits 1 when the files differ */
    }
    console.error(`\n${committed} is out of date with docs/openapi.json. Run \`cd dashboard && npm run api:types\` and commit the result.`);
    process.exit(1);
  }
  console.log(`${committed} matches docs/openapi.json`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
