import { describe, expect, test } from "vitest";
import {
  assertScramSafePassword,
  generatePassword,
  parseVerifier,
  scramVerifier,
} from "./scram.js";

/**
 * Recorded from PostgreSQL 15 itself: `CREATE ROLE r PASSWORD 'pg-pooling-fixture-password'` with
 * password_encryption = scram-sha-256, then `SELECT rolpassword FROM pg_authid`. The integration
 * suite repeats this against the live server with a fresh random salt.
 */
const POSTGRES_VERIFIER =
  "SCRAM-SHA-256$4096:y89QogXPxz3TNoV+VapZmg==$etAS24QsH1qpso5I+VcliQ0FYaK2q0ZNE2zzm8GGsms=:sD2/dvVZPEXRJb2zzV7tdAlS/qoILFh+Bk4hSaxVSJA=";

describe("scramVerifier", () => {
  test("equals PostgreSQL's own verifier for the same password, salt and iterations", () => {
    const { salt, iterations } = parseVerifier(POSTGRES_VERIFIER);
    expect(scramVerifier("pg-pooling-fixture-password", salt, iterations)).toBe(POSTGRES_VERIFIER);
  });

  test("a different password gives a different verifier for the same salt", () => {
    const { salt, iterations } = parseVerifier(POSTGRES_VERIFIER);
    expect(scramVerifier("pg-pooling-fixture-passwore", salt, iterations)).not.toBe(
      POSTGRES_VERIFIER,
    );
  });

  test("a fresh salt every time by default", () => {
    expect(scramVerifier("same-password-twice")).not.toBe(scramVerifier("same-password-twice"));
  });

  test("parseVerifier refuses what is not a verifier", () => {
    expect(() => parseVerifier("md5abcdef")).toThrow(/not a SCRAM-SHA-256 verifier/);
  });

  test("generated passwords are SCRAM-safe; unsafe ones are refused without echoing them", () => {
    for (let i = 0; i < 50; i++)
      expect(() => assertScramSafePassword("p", generatePassword())).not.toThrow();
    for (const bad of [
      "short",
      "has space in it, long enough",
      "quote'in-the-middle-x",
      "ünïcødé-passwørd-long",
    ]) {
      let message = "";
      try {
        assertScramSafePassword("services.orders.password", bad);
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toMatch(/^services\.orders\.password must be/);
      expect(message).not.toContain(bad);
    }
  });
});
