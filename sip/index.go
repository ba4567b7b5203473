package sip

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
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
	var b bytes.Buffer
	// About 520 bytes per file: one allocation instead of doublings.
	b.Grow(4096 + 560*(len(ix.Messages)+len(ix.Metadata)+len(ix.AccessLog)))
	err := ix.Write(&b)
	return b.Bytes(), err
}

// FileList is a list of files the index lists, read as the index is
// written: Each gives exactly Len files, in order.
type FileList struct {
	Len  int
	Each func(fn func(File) error) error
}

// Files is a FileList of files held in memory.
func Files(files []File) FileList {
	return FileList{Len: len(files), Each: func(fn func(File) error) error {
		for _, f := range files {
			if err := fn(f); err != nil {
				return err
			}
		}
		return nil
	}}
}

// Lists are the index's lists of files when they are not held in memory:
// the messages, with their total size, the metadata and the access log.
type Lists struct {
	Messages     FileList
	MessageBytes int64
	Metadata     FileList
	AccessLog    FileList
}

// Write writes the index as XML in one pass: a package of 100,000
// messages lists 200,000 files, which a document tree held in memory
// many times over.
func (ix *Index) Write(out io.Writer) error {
	var bytes int64
	for _, f := range ix.Messages {
		bytes += f.Size
	}
	return ix.WriteLists(out, Lists{Messages: Files(ix.Messages), MessageBytes: bytes, Metadata: Files(ix.Metadata), AccessLog: Files(ix.AccessLog)})
}

// WriteLists is Write with the lists of files read from l, not from ix:
// the same bytes, without the lists in memory.
func (ix *Index) WriteLists(out io.Writer, l Lists) error {
	w := &xw{w: bufio.NewWriterSize(out, 64<<10)}
	w.raw(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	w.open(0, "sincro:PIndex", "xmlns:sincro", SincroNS, "sincro:language", "it",
		"sincro:uri", "http://www.uni.com/U3011/sincro-v2/PIndex.xsd", "sincro:sincroVersion", "2.0")

	w.open(1, "sincro:SelfDescription")
	w.id(2, "local", ix.ID)
	w.open(2, "sincro:CreatingApplication")
	w.leaf(3, "sincro:Name", "conserva")
	w.leaf(3, "sincro:Version", ix.AppVersion)
	w.leaf(3, "sincro:Producer", "conserva")
	w.close(2, "sincro:CreatingApplication")
	w.open(2, "sincro:MoreInfo", "sincro:xmlSchema", schemas.PackageNS)
	w.open(3, "sincro:EmbeddedMetadata")
	w.open(4, "c:PackageInfo", "xmlns:c", schemas.PackageNS)
	w.leaf(5, "c:Messages", strconv.Itoa(l.Messages.Len))
	w.leaf(5, "c:Bytes", strconv.FormatInt(l.MessageBytes, 10))
	w.leaf(5, "c:Created", ix.Created.UTC().Format(time.RFC3339))
	w.leaf(5, "c:Signer", ix.SignerName)
	w.leaf(5, "c:TimestampAuthority", ix.TSAName)
	for _, warn := range ix.Warnings {
		w.leaf(5, "c:Warning", warn)
	}
	w.close(4, "c:PackageInfo")
	w.close(3, "sincro:EmbeddedMetadata")
	w.close(2, "sincro:MoreInfo")
	w.close(1, "sincro:SelfDescription")

	w.open(1, "sincro:PVolume")
	w.id(2, "local", ix.ID)
	w.leaf(2, "sincro:Label", "PEC "+ix.Created.UTC().Format("2006-01-02"))
	w.close(1, "sincro:PVolume")

	// A FileGroup holds at least one File: a package that seals only the
	// access log has no messages group.
	if l.Messages.Len > 0 || l.AccessLog.Len == 0 {
		w.group("messages", "PEC messages and receipts, byte for byte as received", l.Messages, "binary")
	}
	if l.Metadata.Len > 0 {
		w.group("metadata", "Metadata of each document (AgID Linee Guida, Allegato 5)", l.Metadata, "8bit")
	}
	if l.AccessLog.Len > 0 {
		w.group("accesslog", "Access log of the web interface: hash-chained JSON lines, byte for byte", l.AccessLog, "8bit")
	}

	w.open(1, "sincro:Process")
	w.agent("sincro:Submitter", ix.Submitter, "", "")
	w.agent("sincro:Holder", ix.Holder, "sincro:holderRole", "soggetto produttore")
	w.agent("sincro:AuthorizedSigner", ix.AuthorizedSigner, "sincro:signerRole", "responsabile della conservazione")
	w.open(2, "sincro:TimeReference")
	w.leaf(3, "sincro:TimeStamp", ix.TimestampPath, "sincro:encoding", "binary", "sincro:format", "application/timestamp-reply",
		"sincro:normal", ix.Created.UTC().Format(time.RFC3339))
	w.close(2, "sincro:TimeReference")
	w.leaf(2, "sincro:LawsAndRegulations",
		"DPR 68/2005; DM 2 novembre 2005; D.Lgs 82/2005 (CAD) art. 43-44; AgID Linee Guida sulla formazione, gestione e conservazione dei documenti informatici (2021); codice civile art. 2220")
	w.close(1, "sincro:Process")
	w.close(0, "sincro:PIndex")
	if w.err != nil {
		return w.err
	}
	return w.w.(*bufio.Writer).Flush()
}

// xw writes indented XML (one space per level, as the index always was),
// keeping the first error.
type xw struct {
	w interface {
		io.Writer
		io.StringWriter
	}
	err error
}

func (w *xw) raw(s string) {
	if w.err == nil {
		_, w.err = w.w.WriteString(s)
	}
}

func (w *xw) text(s string) {
	if w.err != nil {
		return
	}
	// Ids, paths and hashes need no escaping: written as they are.
	if !strings.ContainsAny(s, "&<>\"'\t\n\r") {
		_, w.err = w.w.WriteString(s)
		return
	}
	w.err = xml.EscapeText(w.w, []byte(s))
}

const spaces = "          "

func (w *xw) indent(depth int) {
	w.raw(spaces[:min(depth, len(spaces))])
}

// start writes <tag a="v"...> without a line break.
func (w *xw) start(depth int, tag string, attrs ...string) {
	w.indent(depth)
	w.raw("<")
	w.raw(tag)
	for i := 0; i+1 < len(attrs); i += 2 {
		w.raw(" ")
		w.raw(attrs[i])
		w.raw(`="`)
		w.text(attrs[i+1])
		w.raw(`"`)
	}
	w.raw(">")
}

func (w *xw) open(depth int, tag string, attrs ...string) {
	w.start(depth, tag, attrs...)
	w.raw("\n")
}

func (w *xw) close(depth int, tag string) {
	w.indent(depth)
	w.end(tag)
}

func (w *xw) end(tag string) {
	w.raw("</")
	w.raw(tag)
	w.raw(">\n")
}

// leaf writes an element holding only text.
func (w *xw) leaf(depth int, tag, text string, attrs ...string) {
	w.start(depth, tag, attrs...)
	w.text(text)
	w.end(tag)
}

func (w *xw) id(depth int, scheme, value string) {
	w.leaf(depth, "sincro:ID", value, "sincro:scheme", scheme)
}

// group writes a FileGroup; a list that gives other than its Len files
// fails the index (its counts would lie).
func (w *xw) group(gid, label string, files FileList, encoding string) {
	w.open(1, "sincro:FileGroup")
	w.id(2, "local", gid)
	w.leaf(2, "sincro:Label", label)
	n := 0
	err := files.Each(func(f File) error {
		n++
		w.open(2, "sincro:File", "sincro:encoding", encoding, "sincro:extension", f.Extension, "sincro:format", f.Format)
		w.id(3, "local", f.ID)
		w.leaf(3, "sincro:Path", f.Path)
		w.leaf(3, "sincro:Hash", f.SHA256, "sincro:hashFunction", "SHA-256")
		w.close(2, "sincro:File")
		return w.err
	})
	if err == nil && n != files.Len {
		err = fmt.Errorf("index: the %s group lists %d files, %d were said", gid, n, files.Len)
	}
	if w.err == nil {
		w.err = err
	}
	w.close(1, "sincro:FileGroup")
}

func (w *xw) agent(tag string, a Agent, roleAttr, role string) {
	kind := "natural person"
	if a.Legal {
		kind = "legal person"
	}
	attrs := []string{"sincro:agentType", kind}
	if roleAttr != "" {
		attrs = append(attrs, roleAttr, role)
	}
	w.open(2, tag, attrs...)
	w.open(3, "sincro:AgentName")
	w.leaf(4, "sincro:FormalName", a.Name)
	w.close(3, "sincro:AgentName")
	doc := a.Document
	if doc == "" {
		doc = "Manuale di conservazione"
	}
	w.leaf(3, "sincro:RelevantDocument", doc)
	w.close(2, tag)
}

// render writes a document tree built with etree the way the index is
// written: etree's own Indent and WriteTo cost more than building the tree
// (a seal of 100,000 messages renders 200,000 metadata documents). The
// trees rendered here hold text or child elements, never both.
func render(root *etree.Element) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(4096)
	w := &xw{w: &b}
	w.raw(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	w.element(root, 0)
	return b.Bytes(), w.err
}

func (w *xw) element(e *etree.Element, depth int) {
	attrs := make([]string, 0, 2*len(e.Attr))
	for _, a := range e.Attr {
		attrs = append(attrs, a.FullKey(), a.Value)
	}
	children := e.ChildElements()
	if len(children) == 0 {
		w.leaf(depth, e.FullTag(), e.Text(), attrs...)
		return
	}
	w.open(depth, e.FullTag(), attrs...)
	for _, c := range children {
		w.element(c, depth+1)
	}
	w.close(depth, e.FullTag())
}
