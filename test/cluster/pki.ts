/**
 * The certificates and keys of a throwaway control plane. Everything is made fresh for each start and lives
 * only in the control plane's own directory: a serving CA and the serving certificate for 127.0.0.1 and
 * localhost, a separate client CA with the admin's and kube-controller-manager's client certificates (group
 * system:masters), and the key pair that signs ServiceAccount tokens (ES256).
 *
 * All keys are ECDSA P-256, made by node:crypto in microseconds (RSA-2048 key generation costs seconds on a
 * loaded two-core machine, and every test process starts a control plane). node:crypto cannot build X.509
 * certificates and node-forge cannot hold EC keys, so node-forge lays out the certificate fields (names,
 * validity, extensions), the EC public key and the ecdsa-with-SHA256 algorithm are put in their places, and
 * node:crypto signs the result.
 */
import { createHash, generateKeyPair, randomBytes, sign, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';

const generateKeyPairAsync = promisify(generateKeyPair);
const { asn1 } = forge;

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
  /** kube-controller-manager's client certificate: user system:kube-controller-manager, group system:masters. */
  readonly controllerManager: CertifiedKey;
  readonly serviceAccount: KeyPairPem;
}

export const ADMIN_USER = 'cph-admin';
export const ADMIN_GROUP = 'system:masters';
/**
 * kube-controller-manager runs its controllers with its own credentials (--use-service-account-credentials=false),
 * so the garbage collector and the namespace controller need rights on every resource: the group gives them.
 */
export const CONTROLLER_MANAGER_USER = 'system:kube-controller-manager';

const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const TBS_SIGNATURE_INDEX = 2; // TBSCertificate: version, serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, ...
const TBS_PUBLIC_KEY_INDEX = 6;

/** forge.pki.getTBSCertificate exists (x509.js) but is missing from @types/node-forge. */
const forgeX509 = forge.pki as unknown as { getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1 };

interface EcKey {
  readonly privateKey: KeyObject;
  readonly privateKeyPem: string;
  readonly publicKeyPem: string;
  readonly spkiDer: Buffer;
  /** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
  readonly keyIdentifier: string;
}

async function ecKey(): Promise<EcKey> {
  const { privateKey, publicKey } = await generateKeyPairAsync('ec', { namedCurve: 'P-256' });
  const spkiDer = publicKey.export({ type: 'spki', format: 'der' });
  const spki = asn1.fromDer(spkiDer.toString('binary'));
  const bits = ((spki.value as forge.asn1.Asn1[])[1]!.value as string).slice(1); // drop the unused-bits byte
  return {
    privateKey,
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    spkiDer,
    keyIdentifier: createHash('sha1').update(Buffer.from(bits, 'binary')).digest('binary'),
  };
}

interface Issued {
  readonly certPem: string;
  readonly subject: forge.pki.CertificateField[];
  readonly key: EcKey;
}

interface CertificateRequest {
  readonly commonName: string;
  readonly organization?: string;
  readonly key: EcKey;
  readonly issuer?: Issued;
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

function ecdsaWithSha256(): forge.asn1.Asn1 {
  // AlgorithmIdentifier with the parameters absent, as RFC 5758 requires for ECDSA.
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(ECDSA_WITH_SHA256).getBytes()),
  ]);
}

function issueCertificate(request: CertificateRequest): Issued {
  const cert = forge.pki.createCertificate();
  // forge lays out only RSA keys; a placeholder stands in and is replaced by the EC key below.
  cert.publicKey = forge.pki.setRsaPublicKey(new forge.jsbn.BigInteger('3'), new forge.jsbn.BigInteger('3'));
  cert.serialNumber = serialNumber();
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 60 * 60 * 1000);
  cert.validity.notAfter = new Date(now + 365 * 24 * 60 * 60 * 1000);
  const subject: forge.pki.CertificateField[] = [{ name: 'commonName', value: request.commonName }];
  if (request.organization !== undefined) subject.push({ name: 'organizationName', value: request.organization });
  cert.setSubject(subject);
  cert.setIssuer(request.issuer ? request.issuer.subject : subject);

  const extensions: object[] = [];
  if (request.kind === 'ca') {
    extensions.push({ name: 'basicConstraints', cA: true, critical: true });
    extensions.push({ name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true });
  } else {
    extensions.push({ name: 'basicConstraints', cA: false });
    extensions.push({ name: 'keyUsage', digitalSignature: true, critical: true });
    extensions.push(
      request.kind === 'server' ? { name: 'extKeyUsage', serverAuth: true } : { name: 'extKeyUsage', clientAuth: true },
    );
  }
  const altNames = [
    ...(request.dnsNames ?? []).map((value) => ({ type: 2, value })),
    ...(request.ipAddresses ?? []).map((ip) => ({ type: 7, ip })),
  ];
  if (altNames.length > 0) extensions.push({ name: 'subjectAltName', altNames });
  extensions.push({
    name: 'subjectKeyIdentifier',
    value: asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, request.key.keyIdentifier),
  });
  const signer = request.issuer?.key ?? request.key;
  extensions.push({ name: 'authorityKeyIdentifier', keyIdentifier: signer.keyIdentifier });
  cert.setExtensions(extensions);

  cert.siginfo.algorithmOid = forge.pki.oids.sha256WithRSAEncryption as string; // placeholder, replaced below
  const tbs = forgeX509.getTBSCertificate(cert);
  const fields = tbs.value as forge.asn1.Asn1[];
  fields[TBS_SIGNATURE_INDEX] = ecdsaWithSha256();
  fields[TBS_PUBLIC_KEY_INDEX] = asn1.fromDer(request.key.spkiDer.toString('binary'));
  const tbsDer = asn1.toDer(tbs).getBytes();
  const signature = sign('sha256', Buffer.from(tbsDer, 'binary'), signer.privateKey); // DER Ecdsa-Sig-Value
  const certificate = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    tbs,
    ecdsaWithSha256(),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, `\u0000${signature.toString('binary')}`),
  ]);
  const certPem = forge.pem.encode({ type: 'CERTIFICATE', body: asn1.toDer(certificate).getBytes() }, { maxline: 64 });
  return { certPem, subject, key: request.key };
}

/** Makes every certificate and key a control plane on 127.0.0.1 needs, in a few milliseconds. */
export async function createControlPlanePki(): Promise<ControlPlanePki> {
  const [servingCaKey, servingKey, clientCaKey, adminKey, controllerManagerKey, serviceAccountKey] = await Promise.all(
    Array.from({ length: 6 }, () => ecKey()),
  );
  const servingCa = issueCertificate({
    commonName: 'cph-route-operator test serving CA',
    key: servingCaKey,
    kind: 'ca',
  });
  const serving = issueCertificate({
    commonName: 'kube-apiserver',
    key: servingKey,
    kind: 'server',
    issuer: servingCa,
    ipAddresses: ['127.0.0.1'],
    dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'],
  });
  const clientCa = issueCertificate({ commonName: 'cph-route-operator test client CA', key: clientCaKey, kind: 'ca' });
  const admin = issueCertificate({
    commonName: ADMIN_USER,
    organization: ADMIN_GROUP,
    key: adminKey,
    kind: 'client',
    issuer: clientCa,
  });
  const controllerManager = issueCertificate({
    commonName: CONTROLLER_MANAGER_USER,
    organization: ADMIN_GROUP,
    key: controllerManagerKey,
    kind: 'client',
    issuer: clientCa,
  });
  const certified = (issued: Issued): CertifiedKey => ({ certPem: issued.certPem, keyPem: issued.key.privateKeyPem });
  return {
    servingCa: certified(servingCa),
    serving: certified(serving),
    clientCa: certified(clientCa),
    admin: certified(admin),
    controllerManager: certified(controllerManager),
    serviceAccount: { privateKeyPem: serviceAccountKey.privateKeyPem, publicKeyPem: serviceAccountKey.publicKeyPem },
  };
}
