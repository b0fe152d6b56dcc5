package main

// The CLI is the one composition root that links every blob driver (each
// pinner package registers its driver's URL scheme and version pinning) and,
// as they land, every authentication provider.
import (
	_ "gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/memblob"

	_ "github.com/pgmi-cloud/pgmi/pkg/bundle/azpin"
	_ "github.com/pgmi-cloud/pgmi/pkg/bundle/gcspin"
	_ "github.com/pgmi-cloud/pgmi/pkg/bundle/s3pin"
	_ "github.com/pgmi-cloud/pgmi/pkg/connect/cloudsql"
	_ "github.com/pgmi-cloud/pgmi/pkg/connect/entra"
	_ "github.com/pgmi-cloud/pgmi/pkg/connect/rdsiam"
)
