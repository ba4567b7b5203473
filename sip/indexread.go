package sip

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ListedFile is one File of an index as read back: where it is and the
// hash the signed index gives it.
type ListedFile struct {
	Group  string // the FileGroup's ID: messages, metadata, accesslog
	ID     string
	Path   string
	SHA256 string
}

// maxListedText bounds the text of an ID, Path or Hash read back: the
// index is signed, but a forged one must not make a reader hold gigabytes.
const maxListedText = 4096

// EachFile reads an index as a stream and calls fn with every File it
// lists, in order: an index of 100,000 messages is 100 MB of XML, which a
// document tree would hold many times over.
func EachFile(r io.Reader, fn func(ListedFile) error) error {
	dec := xml.NewDecoder(r)
	var group string
	var cur *ListedFile
	var field *string // the child of File whose text is being read
	inGroup, depthInGroup := false, 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("index.xml: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if inGroup {
				depthInGroup++
			}
			switch {
			case t.Name.Local == "FileGroup":
				inGroup, depthInGroup, group = true, 0, ""
			case t.Name.Local == "File" && inGroup && depthInGroup == 1:
				cur = &ListedFile{Group: strings.TrimSpace(group)}
			case cur != nil && t.Name.Local == "ID":
				field = &cur.ID
			case cur != nil && t.Name.Local == "Path":
				field = &cur.Path
			case cur != nil && t.Name.Local == "Hash":
				field = &cur.SHA256
			case cur == nil && inGroup && depthInGroup == 1 && t.Name.Local == "ID":
				field = &group
			}
		case xml.CharData:
			if field != nil {
				if len(*field)+len(t) > maxListedText {
					return fmt.Errorf("index.xml: a File's field is over %d bytes", maxListedText)
				}
				*field += string(t)
			}
		case xml.EndElement:
			field = nil
			if t.Name.Local == "File" && cur != nil {
				cur.ID, cur.Path, cur.SHA256 = strings.TrimSpace(cur.ID), strings.TrimSpace(cur.Path), strings.TrimSpace(cur.SHA256)
				if err := fn(*cur); err != nil {
					return err
				}
				cur = nil
			}
			if inGroup {
				if t.Name.Local == "FileGroup" && depthInGroup == 0 {
					inGroup = false
				} else {
					depthInGroup--
				}
			}
		}
	}
}
