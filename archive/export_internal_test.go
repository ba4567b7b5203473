package archive

// CheckPages is the catalog check's page walk, for tests.
var CheckPages = (*Catalog).checkPages
