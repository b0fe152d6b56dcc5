// Command empty is the smallest aws-lambda-go function: the baseline a
// cold-start benchmark measures the real entrypoints against.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(ctx context.Context, ev json.RawMessage) (string, error) { return "", nil })
}
