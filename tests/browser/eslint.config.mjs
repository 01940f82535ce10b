// Lints the default theme's hydration script (a classic browser script) and these specs
// (Node ES modules): `npm run lint`, which .ci/run runs.
import js from "@eslint/js";
import globals from "globals";

// Run from the repository root (`npm run lint` does), so the theme's script is inside the
// base path; `files` are relative to it.
export default [
  js.configs.recommended,
  {
    files: ["themes/default/static/drops.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "script", globals: globals.browser },
    rules: {
      "no-var": "error",
      "prefer-const": "error",
      eqeqeq: "error",
      curly: ["error", "multi-line"],
      "no-implicit-globals": "error",
      "no-unused-vars": ["error", { caughtErrors: "all" }],
    },
  },
  {
    files: ["tests/browser/*.mjs"],
    languageOptions: { ecmaVersion: "latest", sourceType: "module", globals: { ...globals.node, ...globals.browser } },
    rules: { "no-var": "error", "prefer-const": "error", eqeqeq: "error" },
  },
];
