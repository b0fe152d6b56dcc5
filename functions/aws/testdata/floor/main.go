// Command floor is the cold-start floor of any Lambda built the way
// ARCHITECTURE.md prescribes: an empty handler that links only
// gocloud.dev/blob with its S3 driver (which brings the AWS SDK's default
// config chain). BenchmarkColdStart reports the function against it as well
// as against the empty aws-lambda-go function.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"

	_ "gocloud.dev/blob/s3blob"
)

func main() {
	lambda.Start(func(context.Context, json.RawMessage) (string, error) { return "", nil })
}
