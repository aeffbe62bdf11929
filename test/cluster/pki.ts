/**
 * The certificates and keys of a throwaway control plane. Everything is made fresh for each start and lives
 * only in the control plane's own directory: a serving CA and the serving certificate for 127.0.0.1 and
 * localhost, a separate client CA and the admin's client certificate (group system:masters), and the key pair
 * that signs ServiceAccount tokens. node-forge lays out the X.509 certificates, which node:crypto cannot do;
 * node:crypto makes the keys (in parallel, off the main thread) and computes the signatures, both of which
 * are orders of magnitude slower in forge's pure JavaScript RSA.
 */
import { generateKeyPair, randomBytes, sign } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';

const generateKeyPairAsync = promisify(generateKeyPair);

/** forge.pki.getTBSCertificate exists (x509.js) but is missing from @types/node-forge. */
const forgeX509 = forge.pki as unknown as { getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1 };

export interface KeyPairPem {
  readonly privateKeyPem: string;
  readonly publicKeyPem: string;
}

export interface CertifiedKey {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface ControlPlanePki {
  readonly servingCa: CertifiedKey;
  readonly serving: CertifiedKey;
  readonly clientCa: CertifiedKey;
  readonly admin: CertifiedKey;
  readonly serviceAccount: KeyPairPem;
}

export const ADMIN_USER = 'cph-admin';
export const ADMIN_GROUP = 'system:masters';

export async function rsaKeyPair(): Promise<KeyPairPem> {
  const { privateKey, publicKey } = await generateKeyPairAsync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

interface CertificateRequest {
  readonly commonName: string;
  readonly organization?: string;
  readonly keys: KeyPairPem;
  readonly issuer?: { readonly cert: forge.pki.Certificate; readonly keyPem: string };
  readonly kind: 'ca' | 'server' | 'client';
  readonly ipAddresses?: readonly string[];
  readonly dnsNames?: readonly string[];
}

function serialNumber(): string {
  // A positive 16-byte serial: clear the top bit so the DER INTEGER stays positive.
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

function issueCertificate(request: CertificateRequest): { cert: forge.pki.Certificate; certPem: string } {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(request.keys.publicKeyPem);
  cert.serialNumber = serialNumber();
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 60 * 60 * 1000);
  cert.validity.notAfter = new Date(now + 365 * 24 * 60 * 60 * 1000);
  const subject: forge.pki.CertificateField[] = [{ name: 'commonName', value: request.commonName }];
  if (request.organization !== undefined) subject.push({ name: 'organizationName', value: request.organization });
  cert.setSubject(subject);
  cert.setIssuer(request.issuer ? request.issuer.cert.subject.attributes : subject);

  const extensions: object[] = [];
  if (request.kind === 'ca') {
    extensions.push({ name: 'basicConstraints', cA: true, critical: true });
    extensions.push({ name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true });
  } else {
    extensions.push({ name: 'basicConstraints', cA: false });
    extensions.push({ name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true });
    extensions.push(request.kind === 'server' ? { name: 'extKeyUsage', serverAuth: true } : { name: 'extKeyUsage', clientAuth: true });
  }
  const altNames = [
    ...(request.dnsNames ?? []).map((value) => ({ type: 2, value })),
    ...(request.ipAddresses ?? []).map((ip) => ({ type: 7, ip })),
  ];
  if (altNames.length > 0) extensions.push({ name: 'subjectAltName', altNames });
  extensions.push({ name: 'subjectKeyIdentifier' });
  if (request.issuer) {
    const issuerKeyId = request.issuer.cert.generateSubjectKeyIdentifier().getBytes();
    extensions.push({ name: 'authorityKeyIdentifier', keyIdentifier: issuerKeyId });
  }
  cert.setExtensions(extensions);

  // What forge's cert.sign(key, sha256) does, with the RSA signature computed natively.
  const signingKeyPem = request.issuer ? request.issuer.keyPem : request.keys.privateKeyPem;
  cert.md = forge.md.sha256.create();
  cert.signatureOid = cert.siginfo.algorithmOid = forge.pki.oids.sha256WithRSAEncryption as string;
  cert.tbsCertificate = forgeX509.getTBSCertificate(cert);
  const tbsDer = Buffer.from(forge.asn1.toDer(cert.tbsCertificate).getBytes(), 'binary');
  cert.signature = sign('sha256', tbsDer, signingKeyPem).toString('binary');
  return { cert, certPem: forge.pki.certificateToPem(cert) };
}

/** Makes every certificate and key a control plane on 127.0.0.1 needs. */
export async function createControlPlanePki(): Promise<ControlPlanePki> {
  const [servingCaKeys, servingKeys, clientCaKeys, adminKeys, serviceAccount] = await Promise.all(
    Array.from({ length: 5 }, () => rsaKeyPair()),
  );
  const servingCa = issueCertificate({ commonName: 'cph-route-operator test serving CA', keys: servingCaKeys, kind: 'ca' });
  const serving = issueCertificate({
    commonName: 'kube-apiserver',
    keys: servingKeys,
    kind: 'server',
    issuer: { cert: servingCa.cert, keyPem: servingCaKeys.privateKeyPem },
    ipAddresses: ['127.0.0.1'],
    dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'],
  });

  const clientCa = issueCertificate({ commonName: 'cph-route-operator test client CA', keys: clientCaKeys, kind: 'ca' });
  const admin = issueCertificate({
    commonName: ADMIN_USER,
    organization: ADMIN_GROUP,
    keys: adminKeys,
    kind: 'client',
    issuer: { cert: clientCa.cert, keyPem: clientCaKeys.privateKeyPem },
  });

  return {
    servingCa: { certPem: servingCa.certPem, keyPem: servingCaKeys.privateKeyPem },
    serving: { certPem: serving.certPem, keyPem: servingKeys.privateKeyPem },
    clientCa: { certPem: clientCa.certPem, keyPem: clientCaKeys.privateKeyPem },
    admin: { certPem: admin.certPem, keyPem: adminKeys.privateKeyPem },
    serviceAccount,
  };
}
