package archive

import "testing"

// TestDevelopmentOnlyFromTheKeys: a package is marked development for the
// development signer or TSA, not for any other warning of its seal (a
// best-effort revocation warning made a real-key package "development").
func TestDevelopmentOnlyFromTheKeys(t *testing.T) {
	if developmentKeys([]string{"the signer's certificate \"x\": no CRL could be fetched"}) {
		t.Error("a revocation warning marked the package development")
	}
	if !developmentKeys([]string{"timestamped by the DEVELOPMENT TSA: no legal value"}) {
		t.Error("the development TSA did not mark the package development")
	}
}
