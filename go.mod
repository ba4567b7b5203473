module github.com/conserva/conserva

go 1.26.8

require (
	github.com/beevik/etree v1.8.1
	github.com/emersion/go-message v0.18.2
	github.com/smallstep/pkcs7 v0.2.3
	github.com/urfave/cli/v3 v3.14.0
)

require golang.org/x/text v0.14.0 // indirect
