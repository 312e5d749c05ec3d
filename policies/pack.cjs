// Entry of the pg-pooling policy pack (package.json "main"). Pulumi's policy runner require()s
// the pack; the pack is ESM TypeScript importing ../platform and ../pgbouncer, like the program,
// so tsx loads it here, as `nodeargs: --import tsx` does for the program (Pulumi.yaml).
const { register } = require("tsx/esm/api");

register();
module.exports = import("./index.ts");
