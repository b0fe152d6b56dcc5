package google_test

import (
	"context"
	"fmt"
	"os"

	"cloud.google.com/go/cloudsqlconn"

	"github.com/pgmi-cloud/pgmi/pkg/connect"
	"github.com/pgmi-cloud/pgmi/pkg/connect/google"
	"github.com/pgmi-cloud/pgmi/pkg/pgmiyaml"
)

// A composition root links the method by importing the package; the
// settings come from flags, PGMI_* variables or pgmi.yaml.
func Example() {
	target, err := connect.Resolve(connect.Flags{
		Google:         true,
		GoogleInstance: "my-project:us-central1:main",
		GoogleIPType:   "private",
		User:           "deployer@my-project.iam", // deployer@my-project.iam.gserviceaccount.com
		Database:       "app",
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
	factory := google.NewFactory(&google.Options{
		DialerOptions: []cloudsqlconn.Option{cloudsqlconn.WithQuotaProject("billing-project")},
	})
	opts := &connect.Options{Providers: map[connect.AuthMethod]connect.ProviderFactory{connect.AuthGoogle: factory}}
	_ = opts // connect.ResolveWith(flags, os.LookupEnv, yml, opts)
}
