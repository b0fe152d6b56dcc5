package main

// The CLI is the one composition root that links every blob driver (each
// pinner package registers its driver's URL scheme and version pinning) and,
// as they land, every authentication provider.
import (
	"github.com/pgmi-cloud/pgmi/pkg/connect"

	_ "gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/memblob"

	_ "github.com/pgmi-cloud/pgmi/pkg/bundle/azpin"
	_ "github.com/pgmi-cloud/pgmi/pkg/bundle/gcspin"
	_ "github.com/pgmi-cloud/pgmi/pkg/bundle/s3pin"
	_ "github.com/pgmi-cloud/pgmi/pkg/connect/aws"
	_ "github.com/pgmi-cloud/pgmi/pkg/connect/azure"
	_ "github.com/pgmi-cloud/pgmi/pkg/connect/google"
)

// providerOverrides replace registered providers for this process; nil (the
// only value outside tests) uses the registered ones. Tests set it to reach
// fakes a provider cannot be pointed at through the environment (the Cloud
// SQL connector's Admin API endpoint and dial function).
var providerOverrides map[connect.AuthMethod]connect.ProviderFactory
