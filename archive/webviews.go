package archive

import "encoding/json"

// Audits calls fn for every recorded audit run, oldest first (for the web
// interface's audit dashboard).
func (c *Catalog) Audits(fn func(AuditReport) error) error {
	return c.Each(bucketAudits, false, func(k, v []byte) error {
		var rep AuditReport
		if err := json.Unmarshal(v, &rep); err != nil {
			return damagedValue("audit", k, err)
		}
		return fn(rep)
	})
}
