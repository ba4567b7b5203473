package sip

import (
	"fmt"
	"time"

	"github.com/beevik/etree"
	"github.com/conserva/conserva/schemas"
)

// SincroNS is the UNI 11386:2020 SInCRO namespace.
const SincroNS = "http://www.uni.com/U3011/sincro-v2/"

// File is one file listed in the index.
type File struct {
	ID        string // the SHA-256 for messages; the path for metadata
	Path      string // object key
	SHA256    string // lowercase hex
	Format    string // media type
	Extension string
	Size      int64
}

// Agent is a person or organisation named in the index's Process.
type Agent struct {
	Name     string
	Legal    bool   // legal person (organisation) rather than natural person
	Document string // the document that names its role (e.g. the preservation manual)
}

// Index describes a package.
type Index struct {
	ID               string
	Created          time.Time
	AppVersion       string
	Messages         []File
	Metadata         []File
	AccessLog        []File // segments of the web interface's access log
	Submitter        Agent
	Holder           Agent
	AuthorizedSigner Agent
	SignerName       string
	TSAName          string
	Warnings         []string // e.g. development keys
	TimestampPath    string   // relative path of the .tsr
}

// XML renders the index as a SInCRO PIndex. Every attribute is qualified:
// the schema says attributeFormDefault="qualified".
func (ix *Index) XML() ([]byte, error) {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	root := doc.CreateElement("sincro:PIndex")
	root.CreateAttr("xmlns:sincro", SincroNS)
	root.CreateAttr("sincro:language", "it")
	root.CreateAttr("sincro:uri", "http://www.uni.com/U3011/sincro-v2/PIndex.xsd")
	root.CreateAttr("sincro:sincroVersion", "2.0")

	self := root.CreateElement("sincro:SelfDescription")
	id(self, "local", ix.ID)
	app := self.CreateElement("sincro:CreatingApplication")
	app.CreateElement("sincro:Name").SetText("conserva")
	app.CreateElement("sincro:Version").SetText(ix.AppVersion)
	app.CreateElement("sincro:Producer").SetText("conserva")
	more := self.CreateElement("sincro:MoreInfo")
	more.CreateAttr("sincro:xmlSchema", schemas.PackageNS)
	info := more.CreateElement("sincro:EmbeddedMetadata").CreateElement("c:PackageInfo")
	info.CreateAttr("xmlns:c", schemas.PackageNS)
	var bytes int64
	for _, f := range ix.Messages {
		bytes += f.Size
	}
	info.CreateElement("c:Messages").SetText(fmt.Sprint(len(ix.Messages)))
	info.CreateElement("c:Bytes").SetText(fmt.Sprint(bytes))
	info.CreateElement("c:Created").SetText(ix.Created.UTC().Format(time.RFC3339))
	info.CreateElement("c:Signer").SetText(ix.SignerName)
	info.CreateElement("c:TimestampAuthority").SetText(ix.TSAName)
	for _, w := range ix.Warnings {
		info.CreateElement("c:Warning").SetText(w)
	}

	vol := root.CreateElement("sincro:PVolume")
	id(vol, "local", ix.ID)
	vol.CreateElement("sincro:Label").SetText("PEC " + ix.Created.UTC().Format("2006-01-02"))

	// A FileGroup holds at least one File: a package that seals only the
	// access log has no messages group.
	if len(ix.Messages) > 0 || len(ix.AccessLog) == 0 {
		group(root, "messages", "PEC messages and receipts, byte for byte as received", ix.Messages, "binary")
	}
	if len(ix.Metadata) > 0 {
		group(root, "metadata", "Metadata of each document (AgID Linee Guida, Allegato 5)", ix.Metadata, "8bit")
	}
	if len(ix.AccessLog) > 0 {
		group(root, "accesslog", "Access log of the web interface: hash-chained JSON lines, byte for byte", ix.AccessLog, "8bit")
	}

	proc := root.CreateElement("sincro:Process")
	agent(proc, "sincro:Submitter", ix.Submitter, "", "")
	agent(proc, "sincro:Holder", ix.Holder, "sincro:holderRole", "soggetto produttore")
	agent(proc, "sincro:AuthorizedSigner", ix.AuthorizedSigner, "sincro:signerRole", "responsabile della conservazione")
	ts := proc.CreateElement("sincro:TimeReference").CreateElement("sincro:TimeStamp")
	ts.CreateAttr("sincro:encoding", "binary")
	ts.CreateAttr("sincro:format", "application/timestamp-reply")
	ts.CreateAttr("sincro:normal", ix.Created.UTC().Format(time.RFC3339))
	ts.SetText(ix.TimestampPath)
	proc.CreateElement("sincro:LawsAndRegulations").SetText(
		"DPR 68/2005; DM 2 novembre 2005; D.Lgs 82/2005 (CAD) art. 43-44; AgID Linee Guida sulla formazione, gestione e conservazione dei documenti informatici (2021); codice civile art. 2220")
	doc.Indent(1)
	return doc.WriteToBytes()
}

func id(parent *etree.Element, scheme, value string) {
	e := parent.CreateElement("sincro:ID")
	e.CreateAttr("sincro:scheme", scheme)
	e.SetText(value)
}

func group(root *etree.Element, gid, label string, files []File, encoding string) {
	g := root.CreateElement("sincro:FileGroup")
	id(g, "local", gid)
	g.CreateElement("sincro:Label").SetText(label)
	for _, f := range files {
		fe := g.CreateElement("sincro:File")
		fe.CreateAttr("sincro:encoding", encoding)
		fe.CreateAttr("sincro:extension", f.Extension)
		fe.CreateAttr("sincro:format", f.Format)
		id(fe, "local", f.ID)
		fe.CreateElement("sincro:Path").SetText(f.Path)
		h := fe.CreateElement("sincro:Hash")
		h.CreateAttr("sincro:hashFunction", "SHA-256")
		h.SetText(f.SHA256)
	}
}

func agent(parent *etree.Element, tag string, a Agent, roleAttr, role string) {
	e := parent.CreateElement(tag)
	kind := "natural person"
	if a.Legal {
		kind = "legal person"
	}
	e.CreateAttr("sincro:agentType", kind)
	if roleAttr != "" {
		e.CreateAttr(roleAttr, role)
	}
	e.CreateElement("sincro:AgentName").CreateElement("sincro:FormalName").SetText(a.Name)
	doc := a.Document
	if doc == "" {
		doc = "Manuale di conservazione"
	}
	e.CreateElement("sincro:RelevantDocument").SetText(doc)
}
