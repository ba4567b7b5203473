// Package schemas embeds the XML schemas conserva writes documents for:
// its own (package information and document metadata). The UNI 11386
// SInCRO schema is reference material outside the repository.
package schemas

import "embed"

//go:embed *.xsd
var FS embed.FS

// Namespaces and file names of the embedded schemas.
const (
	MetadataNS  = "urn:conserva:agid:allegato5:1"
	MetadataXSD = "conserva-metadati.xsd"
	PackageNS   = "urn:conserva:package:1"
	PackageXSD  = "conserva-package.xsd"
	// The rapporto di versamento and the scarto (disposal) documents.
	VersamentoNS  = "urn:conserva:versamento:1"
	VersamentoXSD = "conserva-versamento.xsd"
	ScartoNS      = "urn:conserva:scarto:1"
	ScartoXSD     = "conserva-scarto.xsd"
)
