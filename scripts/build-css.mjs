// Builds build/static/vendor/bootstrap/bootstrap.css: Bootstrap with only the rules the site can
// use, found by PurgeCSS in the templates and in the Python code that writes class names into HTML
// (form widgets, format_html). Run by `make run`, `make test` and the production build
// (`npm run build`); the Makefile rebuilds it whenever a template or a Python file changes.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { PurgeCSS } from "purgecss";

const OUTPUT = "build/static/vendor/bootstrap/bootstrap.css";

// Django's widgets write the tags and input types (<textarea>, type="checkbox") that Bootstrap
// styles by name; the templates only say {{ widget.type }}. Django is found through the project's
// Python: $PYTHON, else .venv/bin/python, else python3.
const python = process.env.PYTHON || (existsSync(".venv/bin/python") ? ".venv/bin/python" : "python3");
let django;
try {
  django = execFileSync(python, ["-c", "import django, os; print(os.path.dirname(django.__file__))"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  }).trim();
} catch {
  console.error(`build-css: ${python} cannot import Django; install requirements.txt first or set PYTHON.`);
  process.exit(1);
}

const [result] = await new PurgeCSS().purge({
  css: ["node_modules/bootstrap/dist/css/bootstrap.min.css"],
  content: [
    "templates/**/*.html",
    "{core,accounts,eligibility,appointments,notifications,desk,allocation,reports}/**/*.py",
    `${django}/forms/widgets.py`,
    `${django}/forms/templates/django/forms/**/*.html`,
  ],
  safelist: {
    // base.html writes a message's level into its class: alert-{{ message.level_tag }}.
    standard: ["alert-info", "alert-success", "alert-warning", "alert-danger"],
  },
  // Drop the custom properties, @keyframes and @font-face nothing uses any more.
  variables: true,
  keyframes: true,
  fontFace: true,
});

// The purged file no longer matches Bootstrap's source map; Bootstrap's licence banner stays.
const css = result.css.replace(/\/\*# sourceMappingURL=[^*]*\*\/\s*$/, "") + "\n";
await mkdir(dirname(OUTPUT), { recursive: true });
await writeFile(`${OUTPUT}.tmp`, css);
await rename(`${OUTPUT}.tmp`, OUTPUT);
console.log(`${OUTPUT}: ${css.length} bytes`);
