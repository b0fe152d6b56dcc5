package main

// The CLI is the one composition root that links every blob driver (each
// pinner package registers its driver's URL scheme and version pinning),
// every fleet queue driver (pgmi rollout resume publishes, pgmi local
// serves mem://) and every authentication provider.
import (
	_ "gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/memblob"
	_ "gocloud.dev/pubsub/awssnssqs"
	_ "gocloud.dev/pubsub/azuresb"
	_ "gocloud.dev/pubsub/gcppubsubv2"
	_ "gocloud.dev/pubsub/mempubsub"

	_ "github.com/pgmi-cloud/pgmi/pkg/bundle/azpin"
	_ "github.com/pgmi-cloud/pgmi/pkg/bundle/gcspin"
	_ "github.com/pgmi-cloud/pgmi/pkg/bundle/s3pin"
	_ "github.com/pgmi-cloud/pgmi/pkg/connect/cloudsql"
	_ "github.com/pgmi-cloud/pgmi/pkg/connect/entra"
	_ "github.com/pgmi-cloud/pgmi/pkg/connect/rdsiam"
)
