package cloudsql_test

import (
	"context"
	"fmt"
	"os"

	"cloud.google.com/go/cloudsqlconn"

	"github.com/pgmi-cloud/pgmi/pkg/connect"
	"github.com/pgmi-cloud/pgmi/pkg/connect/cloudsql"
	"github.com/pgmi-cloud/pgmi/pkg/pgmiyaml"
)

// A composition root links the method by importing the package; the
// settings come from flags, PGMI_* variables or pgmi.yaml.
func Example() {
	target, err := connect.Resolve(connect.Flags{
		Auth: map[string]string{
			"google":          "true",
			"google-instance": "my-project:us-central1:main",
			"google-ip-type":  "private",
		},
		User:     "deployer@my-project.iam", // deployer@my-project.iam.gserviceaccount.com
		Database: "app",
	}, os.LookupEnv, pgmiyaml.Connection{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer target.Close() // releases the Cloud SQL dialer
	conn, err := target.Dial(context.Background(), target.Database())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close(context.Background())
}

// An embedder can tune the connector, for example to bill API calls to
// another project, and use that factory instead of the registered one.
func ExampleNewFactory() {
	factory := cloudsql.NewFactory(&cloudsql.Options{
		DialerOptions: []cloudsqlconn.Option{cloudsqlconn.WithQuotaProject("billing-project")},
	})
	opts := &connect.Options{Factory: factory}
	_ = opts // connect.ResolveWith(flags, os.LookupEnv, yml, opts)
}
