/** Test certificates: a private CA and a certificate for 127.0.0.1 and localhost, made with openssl. */
import { join } from "node:path";

/**
 * A CA (`ca.pem`, `ca.key`) and a relay certificate for 127.0.0.1 and localhost
 * (`relay.pem`, `relay.key`) in `dir`, made with openssl.
 *
 * @example
 * ```ts
 * await makeCertificates(dir); // then --tls-cert dir/relay.pem, CMDOP_CA_FILE=dir/ca.pem
 * ```
 */
export async function makeCertificates(dir: string): Promise<void> {
  const openssl = async (args: string[]) => {
    const out = await new Deno.Command("openssl", {
      args,
      cwd: dir,
      stdout: "null",
      stderr: "piped",
    })
      .output();
    if (!out.success) {
      throw new Error(`openssl ${args[0]}: ${new TextDecoder().decode(out.stderr)}`);
    }
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  await openssl([
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=cmdop test CA",
  ]);
  await openssl([
    "req",
    ...ec,
    "-keyout",
    "relay.key",
    "-out",
    "relay.csr",
    "-subj",
    "/CN=localhost",
  ]);
  await Deno.writeTextFile(
    join(dir, "ext.cnf"),
    "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n" +
      "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
  );
  await openssl([
    "x509",
    "-req",
    "-in",
    "relay.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "relay.pem",
    "-days",
    "2",
    "-extfile",
    "ext.cnf",
  ]);
}
