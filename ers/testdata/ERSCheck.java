import java.io.ByteArrayInputStream;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Security;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Date;
import java.util.List;

import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.nist.NISTObjectIdentifiers;
import org.bouncycastle.asn1.x509.AlgorithmIdentifier;
import org.bouncycastle.cert.jcajce.JcaCertStore;
import org.bouncycastle.cms.SignerInformationVerifier;
import org.bouncycastle.cms.jcajce.JcaSimpleSignerInfoGeneratorBuilder;
import org.bouncycastle.cms.jcajce.JcaSimpleSignerInfoVerifierBuilder;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.operator.DigestCalculator;
import org.bouncycastle.operator.DigestCalculatorProvider;
import org.bouncycastle.operator.jcajce.JcaDigestCalculatorProviderBuilder;
import org.bouncycastle.tsp.TSPAlgorithms;
import org.bouncycastle.tsp.TimeStampRequest;
import org.bouncycastle.tsp.TimeStampRequestGenerator;
import org.bouncycastle.tsp.TimeStampResponse;
import org.bouncycastle.tsp.TimeStampResponseGenerator;
import org.bouncycastle.tsp.TimeStampTokenGenerator;
import org.bouncycastle.tsp.ers.ERSArchiveTimeStamp;
import org.bouncycastle.tsp.ers.ERSArchiveTimeStampGenerator;
import org.bouncycastle.tsp.ers.ERSByteData;
import org.bouncycastle.tsp.ers.ERSData;
import org.bouncycastle.tsp.ers.ERSEvidenceRecord;
import org.bouncycastle.tsp.ers.ERSEvidenceRecordGenerator;

// Bouncy Castle's side of the RFC 4998 interop tests (ers/interop_test.go).
//
//   verify TSA.der (RECORD DATA)...  prints "OK" or "FAIL reason" per pair:
//       validatePresent(data, now) then validate(verifier of TSA.der)
//   generate TSA.der TSA.pk8 CA.der OUTDIR DATA...  writes OUTDIR/<i>.ers,
//       records made by Bouncy Castle's generator over the DATA files, with
//       a token signed here by the TSA key.
public class ERSCheck {
    public static void main(String[] args) throws Exception {
        Security.addProvider(new BouncyCastleProvider());
        DigestCalculatorProvider digProv = new JcaDigestCalculatorProviderBuilder().setProvider("BC").build();
        CertificateFactory cf = CertificateFactory.getInstance("X.509");
        X509Certificate tsa = (X509Certificate) cf.generateCertificate(new ByteArrayInputStream(Files.readAllBytes(Paths.get(args[1]))));
        if (args[0].equals("verify")) {
            SignerInformationVerifier verifier = new JcaSimpleSignerInfoVerifierBuilder().setProvider("BC").build(tsa);
            for (int i = 2; i + 1 < args.length; i += 2) {
                try {
                    ERSEvidenceRecord er = new ERSEvidenceRecord(Files.readAllBytes(Paths.get(args[i])), digProv);
                    er.validatePresent(new ERSByteData(Files.readAllBytes(Paths.get(args[i + 1]))), new Date());
                    er.validate(verifier);
                    System.out.println("OK");
                } catch (Exception e) {
                    System.out.println("FAIL " + e.getClass().getSimpleName() + ": " + e.getMessage());
                }
            }
            return;
        }
        if (args[0].equals("generate")) {
            PrivateKey key = KeyFactory.getInstance("EC").generatePrivate(new PKCS8EncodedKeySpec(Files.readAllBytes(Paths.get(args[2]))));
            X509Certificate ca = (X509Certificate) cf.generateCertificate(new ByteArrayInputStream(Files.readAllBytes(Paths.get(args[3]))));
            DigestCalculator sha256 = digProv.get(new AlgorithmIdentifier(NISTObjectIdentifiers.id_sha256));
            ERSArchiveTimeStampGenerator gen = new ERSArchiveTimeStampGenerator(sha256);
            List<ERSData> data = new ArrayList<ERSData>();
            for (int i = 5; i < args.length; i++) {
                data.add(new ERSByteData(Files.readAllBytes(Paths.get(args[i]))));
            }
            gen.addAllData(data);
            TimeStampRequestGenerator reqGen = new TimeStampRequestGenerator();
            reqGen.setCertReq(true);
            TimeStampRequest req = gen.generateTimeStampRequest(reqGen, BigInteger.valueOf(42));
            TimeStampTokenGenerator tokGen = new TimeStampTokenGenerator(
                new JcaSimpleSignerInfoGeneratorBuilder().setProvider("BC").build("SHA256withECDSA", key, tsa),
                digProv.get(new AlgorithmIdentifier(NISTObjectIdentifiers.id_sha256)), new ASN1ObjectIdentifier("1.3.6.1.4.1.99999.1.2"));
            tokGen.addCertificates(new JcaCertStore(Arrays.asList(tsa, ca)));
            TimeStampResponseGenerator respGen = new TimeStampResponseGenerator(tokGen, TSPAlgorithms.ALLOWED);
            long now = System.currentTimeMillis();
            TimeStampResponse resp = respGen.generate(req, BigInteger.ONE, new Date(now - 9000));
            List<ERSArchiveTimeStamp> stamps = gen.generateArchiveTimeStamps(resp);
            List<ERSEvidenceRecord> records = new ERSEvidenceRecordGenerator(digProv).generate(stamps);
            // The records come out in the order of the sorted leaves: match
            // each back to its data.
            for (int i = 0; i < data.size(); i++) {
                for (ERSEvidenceRecord er : records) {
                    if (er.isContaining(data.get(i), new Date())) {
                        Files.write(Paths.get(args[4], i + ".ers"), er.getEncoded());
                        break;
                    }
                }
            }
            // Record 0 renewed by Bouncy Castle: a timestamp renewal, then a
            // hash-tree renewal to SHA-512.
            ERSEvidenceRecord er = null;
            for (ERSEvidenceRecord r : records) {
                if (r.isContaining(data.get(0), new Date())) {
                    er = r;
                }
            }
            TimeStampRequest renewReq = er.generateTimeStampRenewalRequest(reqGen, BigInteger.valueOf(43));
            ERSEvidenceRecord renewed = er.renewTimeStamp(respGen.generate(renewReq, BigInteger.valueOf(2), new Date(now - 6000)));
            Files.write(Paths.get(args[4], "renewed-timestamp.ers"), renewed.getEncoded());
            DigestCalculator sha512 = digProv.get(new AlgorithmIdentifier(NISTObjectIdentifiers.id_sha512));
            TimeStampRequest hashReq = renewed.generateHashRenewalRequest(sha512, data.get(0), reqGen, BigInteger.valueOf(44));
            ERSEvidenceRecord rehashed = renewed.renewHash(sha512, data.get(0), respGen.generate(hashReq, BigInteger.valueOf(3), new Date(now - 3000)));
            Files.write(Paths.get(args[4], "renewed-hash.ers"), rehashed.getEncoded());
            System.out.println("OK " + records.size());
            return;
        }
        throw new IllegalArgumentException("usage: verify|generate ...");
    }
}
