// VerifyCAdEST checks a detached CAdES-T signature with Bouncy Castle, the
// independent second implementation: the CMS signature with the given signer
// certificate, signing-certificate-v2 naming that certificate (SHA-256), and
// the signatureTimeStampToken in the unsigned attributes, validated with
// the given TSA certificate and imprinted with SHA-256 of the signature
// value (ETSI EN 319 122-1).
//
// Usage: VerifyCAdEST <p7s DER> <content> <signer cert PEM> <TSA cert PEM> [...]
// (one JVM for several cases, four arguments each). Prints one line per
// case, "case N: OK ..." or "case N: <reason>", and exits 1 unless every
// case is OK.
import java.io.FileReader;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.MessageDigest;
import java.security.Security;
import java.util.Arrays;
import java.util.Collection;

import org.bouncycastle.asn1.ASN1Encodable;
import org.bouncycastle.asn1.cms.Attribute;
import org.bouncycastle.asn1.cms.AttributeTable;
import org.bouncycastle.asn1.cms.ContentInfo;
import org.bouncycastle.asn1.ess.ESSCertIDv2;
import org.bouncycastle.asn1.ess.SigningCertificateV2;
import org.bouncycastle.asn1.nist.NISTObjectIdentifiers;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cms.CMSProcessableByteArray;
import org.bouncycastle.cms.CMSSignedData;
import org.bouncycastle.cms.CMSSignerDigestMismatchException;
import org.bouncycastle.cms.SignerInformation;
import org.bouncycastle.cms.jcajce.JcaSimpleSignerInfoVerifierBuilder;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.tsp.TimeStampToken;
import org.bouncycastle.tsp.TimeStampTokenInfo;

public class VerifyCAdEST {
    public static void main(String[] args) {
        if (args.length == 0 || args.length % 4 != 0) {
            System.out.println("usage: VerifyCAdEST p7s content signer.pem tsa.pem [...]");
            System.exit(2);
        }
        Security.addProvider(new BouncyCastleProvider());
        boolean allOK = true;
        for (int i = 0; i < args.length; i += 4) {
            String reason;
            try {
                reason = check(args[i], args[i + 1], args[i + 2], args[i + 3]);
            } catch (Exception e) {
                reason = "error: " + e;
            }
            allOK &= reason.startsWith("OK");
            System.out.println("case " + (i / 4) + ": " + reason);
        }
        System.exit(allOK ? 0 : 1);
    }

    static X509CertificateHolder pem(String path) throws Exception {
        try (PEMParser p = new PEMParser(new FileReader(path))) {
            return (X509CertificateHolder) p.readObject();
        }
    }

    static String check(String p7sPath, String contentPath, String signerPem, String tsaPem) throws Exception {
        byte[] content = Files.readAllBytes(Paths.get(contentPath));
        CMSSignedData sd = new CMSSignedData(new CMSProcessableByteArray(content), Files.readAllBytes(Paths.get(p7sPath)));
        Collection<SignerInformation> signers = sd.getSignerInfos().getSigners();
        if (signers.size() != 1) {
            return "want one signer, got " + signers.size();
        }
        SignerInformation si = signers.iterator().next();
        X509CertificateHolder signer = pem(signerPem);
        if (!si.getSID().match(signer)) {
            return "the SignerInfo does not name the given signer certificate";
        }
        try {
            if (!si.verify(new JcaSimpleSignerInfoVerifierBuilder().setProvider("BC").build(signer))) {
                return "signature invalid";
            }
        } catch (CMSSignerDigestMismatchException e) {
            return "signature does not match content: " + e.getMessage();
        }

        Attribute scAttr = si.getSignedAttributes().get(PKCSObjectIdentifiers.id_aa_signingCertificateV2);
        if (scAttr == null) {
            return "no signing-certificate-v2 signed attribute";
        }
        ESSCertIDv2 id = SigningCertificateV2.getInstance(scAttr.getAttrValues().getObjectAt(0)).getCerts()[0];
        if (!id.getHashAlgorithm().getAlgorithm().equals(NISTObjectIdentifiers.id_sha256)) {
            return "signing-certificate-v2 hash is not SHA-256";
        }
        if (!Arrays.equals(id.getCertHash(), MessageDigest.getInstance("SHA-256").digest(signer.getEncoded()))) {
            return "signing-certificate-v2 hash is not the signer certificate's SHA-256";
        }

        AttributeTable unsigned = si.getUnsignedAttributes();
        Attribute tsAttr = unsigned == null ? null : unsigned.get(PKCSObjectIdentifiers.id_aa_signatureTimeStampToken);
        if (tsAttr == null) {
            return "no signatureTimeStampToken unsigned attribute";
        }
        ASN1Encodable tokenValue = tsAttr.getAttrValues().getObjectAt(0);
        TimeStampToken token = new TimeStampToken(ContentInfo.getInstance(tokenValue));
        try {
            // Checks the token's signature with this certificate, that the
            // token names it (ESSCertID) and its critical timeStamping EKU.
            token.validate(new JcaSimpleSignerInfoVerifierBuilder().setProvider("BC").build(pem(tsaPem)));
        } catch (Exception e) {
            return "timestamp token invalid: " + e.getMessage();
        }
        TimeStampTokenInfo info = token.getTimeStampInfo();
        if (!info.getMessageImprintAlgOID().equals(NISTObjectIdentifiers.id_sha256)) {
            return "timestamp imprint is not SHA-256";
        }
        byte[] want = MessageDigest.getInstance("SHA-256").digest(si.getSignature());
        if (!Arrays.equals(info.getMessageImprintDigest(), want)) {
            return "timestamp imprint is not SHA-256 of the signature value";
        }
        return "OK genTime=" + info.getGenTime().toInstant();
    }
}
